"""Models: register, check and load scikit-learn, ONNX, TorchScript and ``.pt2`` files.

``registry`` validates a file and stores it under ``artifacts/<id>/``;
``describe`` fills in what only a loaded model can tell (in the worker);
``predictors`` gives every backend one interface.
"""

from engine.models.registry import (
    CODE_BEARING,
    SUFFIXES,
    ArtifactInfo,
    check_bytes,
    check_onnx,
    delete,
    detect_format,
    external_data_files,
    get,
    info_from_bytes,
    list_registered,
    load_model,
    load_skops,
    onnx_metadata,
    pt2_pickle_members,
    pt2_static_metadata,
    register_bytes,
    register_file,
    save,
    sklearn_metadata,
    skops_untrusted_types,
    update,
)

__all__ = [
    "CODE_BEARING", "SUFFIXES", "ArtifactInfo", "check_bytes", "check_onnx", "delete", "detect_format",
    "external_data_files", "get", "info_from_bytes", "list_registered", "load_model", "load_skops",
    "onnx_metadata", "pt2_pickle_members", "pt2_static_metadata", "register_bytes", "register_file", "save",
    "sklearn_metadata", "skops_untrusted_types", "update",
]
