"""Question 7c: the learnable parameters and the output shape of each layer of ConvNet.

Work them out by hand, then check them with the model summary `python convnet_mnist.py`
prints. Replace each None with your answer: a number for a parameter count, a tuple for a
shape. The grader reads this file without running it, so write plain numbers (arithmetic
such as 20 * 5 * 5 + 20 is fine; no function calls, no imports).

Layers, in the order forward() applies them: conv (the convolution), relu1, pool (the
max-pooling), fc1 (fully connected, 100 units), relu2, fc2 (fully connected, 10 units).
A shape is the output for ONE 1 x 28 x 28 image, without the batch dimension:
(channels, height, width) after conv, relu1 and pool; (features,) after fc1, relu2, fc2.
"""

# Learnable parameters (weights and biases) of each layer, and of the whole network.
conv_params = None
relu1_params = None
pool_params = None
fc1_params = None
relu2_params = None
fc2_params = None
total_params = None

# Output shape of each layer.
conv_shape = None
relu1_shape = None
pool_shape = None
fc1_shape = None
relu2_shape = None
fc2_shape = None
