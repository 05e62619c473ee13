"""Writes a state dict of a submission's MultiLayerPerceptron trained with its own train()
on the grader's prepared rows, as the handout's driver would: run as a separate process
(`python make_mlp_checkpoint.py SUBMISSION X_train y_train X_val y_val OUT [EPOCHS]`), so
no grader or test process imports torch."""
import sys

import numpy as np
import torch

torch.set_num_threads(1)

sub, xt, yt, xv, yv, out = sys.argv[1:7]
epochs = int(sys.argv[7]) if len(sys.argv) > 7 else None
sys.path.insert(0, sub)
import ex2_pytorch as m  # noqa: E402


def images(path):
    X = np.load(path).astype(np.float32).reshape(-1, 32, 32, 3).transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(X / 127.5))


torch.manual_seed(0)
data = torch.utils.data
train = data.DataLoader(data.TensorDataset(images(xt), torch.from_numpy(np.load(yt).astype(np.int64))),
                        batch_size=m.batch_size, shuffle=True)
val = data.DataLoader(data.TensorDataset(images(xv), torch.from_numpy(np.load(yv).astype(np.int64))),
                      batch_size=m.batch_size)
model = m.MultiLayerPerceptron(m.input_size, m.hidden_size, m.num_classes)
model.apply(m.weights_init)
m.train(model, train, val, torch.device("cpu"), epochs or m.num_epochs, m.learning_rate,
        m.learning_rate_decay, m.reg, checkpoint=out)
