"""A two-layer fully connected network: ReLU hidden layer, softmax output, trained by SGD.

Input dimension D, hidden dimension H, C classes. The network computes, for a batch X,

    a1 = X;  z2 = X W1 + b1;  a2 = relu(z2);  z3 = a2 W2 + b2;  probs = softmax(z3)

and is trained with the mean cross-entropy loss plus the L2 penalty
reg * (||W1||^2 + ||W2||^2) on the weight matrices (biases are not regularised).
"""
import numpy as np


class TwoLayerNet:
    """Parameters live in self.params: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)."""

    def __init__(self, input_size, hidden_size, output_size, std=1e-4):
        """Weights are std * N(0, 1), biases zero.

        input_size: D; hidden_size: H; output_size: C; std: scale of the initial weights.
        """
        self.params = {
            "W1": std * np.random.randn(input_size, hidden_size),
            "b1": np.zeros(hidden_size),
            "W2": std * np.random.randn(hidden_size, output_size),
            "b2": np.zeros(output_size),
        }

    def loss(self, X, y=None, reg=0.0):
        """Class probabilities, or the loss and its gradients.

        X: (N, D) inputs; y: (N,) labels in [0, C), or None; reg: L2 strength.
        Returns probs (N, C) when y is None, else (loss, grads) where loss is a float and
        grads maps each key of self.params to an array of that parameter's shape.
        """
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        N = X.shape[0]

        # TODO (question 1a): the forward pass, eqs. 3 to 7, for the whole batch at once (no
        # Python loop over samples, question 1c). Compute the hidden pre-activations z2 (N, H),
        # the ReLU activations a2 (N, H), the class scores z3 (N, C) and their row-wise softmax
        # probs (N, C). Keep z2 and a2: the backward pass needs them.
        raise NotImplementedError("question 1a: the forward pass in TwoLayerNet.loss")

        if y is None:
            return probs

        # TODO (question 1b): the loss of eq. 13, a float named loss: the average over the
        # batch of -log(probability of the correct class), plus reg * (sum of squared entries
        # of W1 + the same for W2). No factor 1/2, and the biases are not penalised.
        raise NotImplementedError("question 1b: the loss in TwoLayerNet.loss")

        # TODO (question 2d): the backward pass. Fill grads with the derivatives of the loss
        # above with respect to W1, b1, W2, b2, each the shape of its parameter. Start from
        # eq. 16 (softmax minus one-hot, divided by N) and apply the chain rule layer by layer;
        # the penalty adds 2 * reg * W to each weight gradient. `ex2_FCnet.py gradcheck`
        # compares your result with numerical gradients.
        grads = {}
        raise NotImplementedError("question 2d: the backward pass in TwoLayerNet.loss")
        return loss, grads

    def train(self, X, y, X_val, y_val, learning_rate=1e-3, learning_rate_decay=0.95,
              reg=5e-6, num_iters=100, batch_size=200, verbose=False):
        """Minibatch SGD; the learning rate is multiplied by the decay once per epoch.

        X: (N, D) training inputs; y: (N,) labels; X_val: (N_val, D); y_val: (N_val,).
        Returns a dict with loss_history (num_iters,), and train_acc_history and
        val_acc_history (one entry per epoch: batch accuracy and validation accuracy).
        """
        num_train = X.shape[0]
        iterations_per_epoch = max(num_train / batch_size, 1)
        loss_history, train_acc_history, val_acc_history = [], [], []

        for it in range(num_iters):
            # TODO (question 3a): draw a random minibatch from the whole training set: X_batch
            # (batch_size, D) and y_batch (batch_size,), rows chosen at random among all
            # num_train (sampling with replacement is fine, and works when batch_size > num_train).
            raise NotImplementedError("question 3a: minibatch sampling in TwoLayerNet.train")
            loss, grads = self.loss(X_batch, y=y_batch, reg=reg)
            loss_history.append(loss)
            # TODO (question 3a): one SGD step: move every parameter in self.params against its
            # gradient in grads, scaled by the current learning_rate. Update the arrays in
            # self.params (the grader reads them there).
            raise NotImplementedError("question 3a: the SGD update in TwoLayerNet.train")

            if verbose and it % 100 == 0:
                print(f"iteration {it} / {num_iters}: loss {loss:f}")

            # Once per epoch: record accuracies and decay the learning rate.
            if it % iterations_per_epoch == 0:
                train_acc_history.append(np.mean(self.predict(X_batch) == y_batch))
                val_acc_history.append(np.mean(self.predict(X_val) == y_val))
                learning_rate *= learning_rate_decay

        return {
            "loss_history": loss_history,
            "train_acc_history": train_acc_history,
            "val_acc_history": val_acc_history,
        }

    def predict(self, X):
        """Predicted labels (N,) for inputs X (N, D): the class of highest score."""
        # TODO (question 3a): run the forward pass on X and return, for each row, the index of
        # the class with the highest score (or probability), as an integer array of shape (N,).
        raise NotImplementedError("question 3a: TwoLayerNet.predict")
