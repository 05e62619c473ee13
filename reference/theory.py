"""Questions 6a and 6d: the pen-and-paper parts of seed 003, in numpy only.

This file must not import torch: the grader checks it in a light sandbox without it.

conv_output_size (6a) is equation (5) of the handout: the height (or width) a convolution
or pooling layer gives. bias_gradients (6d) is problem 1: the gradients of
L = ||t - y||^2 with respect to the two bias vectors of the network
    z1 = W1 x + b1,  a1 = ReLU(z1),  y = W2 a1 + b2.
"""
import numpy as np


def conv_output_size(h_in, kernel, padding, stride):
    """floor((h_in + 2 * padding - (kernel - 1) - 1) / stride + 1), an int.

    h_in: input height (or width); kernel, padding, stride: along the same dimension.
    """
    # Question 6a: equation (5), rounded down.
    return (h_in + 2 * padding - (kernel - 1) - 1) // stride + 1


def bias_gradients(x, W1, b1, W2, b2, t):
    """(dL/db1, dL/db2) of L = ||t - y||^2 for the ReLU/linear network above.

    x: (n0,) input; W1: (n1, n0); b1: (n1,); W2: (n2, n1); b2: (n2,); t: (n2,) target.
    Returns dL/db1 of shape (n1,) and dL/db2 of shape (n2,). The ReLU's derivative is 1
    where z1 > 0 and 0 elsewhere (z1 <= 0).
    """
    z1 = W1 @ x + b1
    a1 = np.maximum(z1, 0.0)
    y = W2 @ a1 + b2
    # Question 6d: the chain rule, output layer first.
    dL_db2 = -2.0 * (t - y)
    dL_db1 = (W2.T @ dL_db2) * (z1 > 0)
    return dL_db1, dL_db2
