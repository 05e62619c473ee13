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

        # Forward pass (question 1a): eqs. 3 to 7, one matrix product per layer.
        z2 = X.dot(W1) + b1  # (N, H)
        a2 = np.maximum(0.0, z2)  # (N, H)
        z3 = a2.dot(W2) + b2  # (N, C)
        shifted = z3 - z3.max(axis=1, keepdims=True)  # softmax is shift invariant
        exp_scores = np.exp(shifted)
        probs = exp_scores / exp_scores.sum(axis=1, keepdims=True)  # (N, C)

        if y is None:
            return probs

        # Loss (question 1b): mean cross-entropy + L2 penalty on W1 and W2.
        data_loss = -np.mean(np.log(probs[np.arange(N), y]))
        reg_loss = reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        loss = data_loss + reg_loss

        # Backward pass (question 2d).
        dz3 = probs.copy()  # (N, C): (softmax - one hot) / N
        dz3[np.arange(N), y] -= 1.0
        dz3 /= N
        grads = {}
        grads["W2"] = a2.T.dot(dz3) + 2.0 * reg * W2  # (H, C)
        grads["b2"] = dz3.sum(axis=0)  # (C,)
        da2 = dz3.dot(W2.T)  # (N, H)
        dz2 = da2 * (z2 > 0)  # ReLU passes gradient only where it was active
        grads["W1"] = X.T.dot(dz2) + 2.0 * reg * W1  # (D, H)
        grads["b1"] = dz2.sum(axis=0)  # (H,)
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
            # Question 3a: a random minibatch (with replacement), then one SGD step.
            idx = np.random.choice(num_train, batch_size, replace=True)
            X_batch, y_batch = X[idx], y[idx]
            loss, grads = self.loss(X_batch, y=y_batch, reg=reg)
            loss_history.append(loss)
            for name, grad in grads.items():
                self.params[name] -= learning_rate * grad

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
        z2 = X.dot(self.params["W1"]) + self.params["b1"]
        scores = np.maximum(0.0, z2).dot(self.params["W2"]) + self.params["b2"]
        return np.argmax(scores, axis=1)
