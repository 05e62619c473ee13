"""A correct solution written unlike the reference, the way many students write it.

Softmax without subtracting the row maximum (right at the handout's input scale), bias
gradients kept as (1, H) rows, shuffled epochs instead of sampling with replacement,
float labels from predict, matplotlib imported at the top and a chatty train().
"""
import matplotlib.pyplot as plt  # noqa: F401 - as the public starter file does
import numpy as np


class TwoLayerNet(object):
    def __init__(self, input_size, hidden_size, output_size, std=1e-4):
        self.params = {}
        self.params['W1'] = std * np.random.randn(input_size, hidden_size)
        self.params['b1'] = np.zeros(hidden_size)
        self.params['W2'] = std * np.random.randn(hidden_size, output_size)
        self.params['b2'] = np.zeros(output_size)

    def loss(self, X, y=None, reg=0.0):
        W1, b1, W2, b2 = (self.params[k] for k in ('W1', 'b1', 'W2', 'b2'))
        N, D = X.shape
        h_pre = np.dot(X, W1) + b1.reshape(1, -1)
        h = h_pre * (h_pre > 0)
        s = np.dot(h, W2) + b2
        e = np.exp(s)
        p = e / np.sum(e, axis=1).reshape(N, 1)
        if y is None:
            return p
        onehot = np.zeros_like(p)
        onehot[range(N), y] = 1
        loss = np.sum(-np.log(np.sum(p * onehot, axis=1))) / N
        loss += reg * np.sum(np.square(W1)) + reg * np.sum(np.square(W2))
        grads = {}
        delta3 = (p - onehot) / N
        grads['W2'] = h.T @ delta3 + reg * 2 * W2
        grads['b2'] = np.sum(delta3, axis=0, keepdims=True)
        delta2 = (delta3 @ W2.T) * np.where(h_pre > 0, 1.0, 0.0)
        grads['W1'] = X.T @ delta2 + reg * 2 * W1
        grads['b1'] = np.sum(delta2, axis=0, keepdims=True)
        return loss, grads

    def train(self, X, y, X_val, y_val, learning_rate=1e-3, learning_rate_decay=0.95,
              reg=5e-6, num_iters=100, batch_size=200, verbose=False):
        num_train = X.shape[0]
        iterations_per_epoch = max(num_train / batch_size, 1)
        loss_history, train_acc_history, val_acc_history = [], [], []
        order, pos = np.random.permutation(num_train), 0
        for it in range(num_iters):
            if batch_size >= num_train:
                idx = np.random.choice(num_train, batch_size)
            else:
                if pos + batch_size > num_train:
                    order, pos = np.random.permutation(num_train), 0
                idx = order[pos:pos + batch_size]
                pos += batch_size
            X_batch, y_batch = X[idx], y[idx]
            loss, grads = self.loss(X_batch, y=y_batch, reg=reg)
            loss_history.append(loss)
            for k in self.params:
                self.params[k] = self.params[k] - learning_rate * grads[k].reshape(self.params[k].shape)
            if verbose and it % 100 == 0:
                print('iteration %d / %d: loss %f' % (it, num_iters, loss))
            if it % iterations_per_epoch == 0:
                train_acc_history.append((self.predict(X_batch) == y_batch).mean())
                val_acc_history.append((self.predict(X_val) == y_val).mean())
                learning_rate *= learning_rate_decay
        print('training done')
        return {'loss_history': loss_history, 'train_acc_history': train_acc_history,
                'val_acc_history': val_acc_history}

    def predict(self, X):
        return np.argmax(self.loss(X), axis=1).astype(float)
