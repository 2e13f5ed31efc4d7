"""engine.data: the datasets the models train on.

mnist     MNIST from IDX files: search (root, MNIST_DIR, cache), MD5 checks, decoding, and the
          train / held-out split the checkpoints use
download  the explicit MNIST download (mirrors, MD5-checked, atomic) and the command line
          ``python -m engine.data [--download] [--root DIR]``
"""
