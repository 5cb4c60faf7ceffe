"""Compress and accelerate a model: recipes that turn it into variants, each benchmarked against it.

``methods`` names the methods and which model formats each applies to (checked
before anything is written); ``export`` makes the ONNX export (skl2onnx for
scikit-learn, ``torch.onnx`` for TorchScript and ``.pt2``) and ``parity``
checks it against the source; ``quantize`` holds the int8 recipes (ONNX Runtime
dynamic and static QDQ, torch dynamic int8 on TorchScript), ``calibration``
the rows static quantization is calibrated on, ``half`` the fp16 conversion;
``deltas`` compares a variant's stored run with the original's; ``run`` is the
``compress`` job (in the worker) and ``commands`` the CLI.

Importing this package (or ``methods``/``commands``) imports no scikit-learn,
torch or ONNX Runtime: the worker imports what a recipe needs.
"""
