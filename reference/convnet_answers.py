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
conv_params = 20 * 1 * 5 * 5 + 20
relu1_params = 0
pool_params = 0
fc1_params = 20 * 12 * 12 * 100 + 100
relu2_params = 0
fc2_params = 100 * 10 + 10
total_params = 289630

# Output shape of each layer.
conv_shape = (20, 24, 24)
relu1_shape = (20, 24, 24)
pool_shape = (20, 12, 12)
fc1_shape = (100,)
relu2_shape = (100,)
fc2_shape = (10,)
