"""engine.data: the datasets the models train on.

    mnist  MNIST from IDX files: search (root, MNIST_DIR, cache), MD5 checks, decoding, the
           train / held-out split the checkpoints use, and an explicit download
           (``python -m engine.data.mnist --download``).
"""
