"""The catalogue of what Part 3's grader catches: mutants of reference/network_template.py,
one student bug each (the bugs ASSIGNMENT.md lists for public Part 3 solutions), and
correct variants written unlike the reference, which keep full marks.

A mutant is a small named edit of the reference (old text -> new text), the question it
must lose points at, and a phrase its feedback must contain (the hint naming the bug).
tests/parts/part3_scratch/test_part3_mutants.py grades each at every check of 5a-5c: it loses its own
question and keeps the others. 5d (a CIFAR-10 training, about 20 s) is graded for the
reference and the template only (tests/parts/part3_scratch/test_part3_e2e.py); none of these bugs stops a
network from training, and the rubric's calibration says what a train() that never
updates reaches.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mutants import EditsOneFile

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = ROOT / "reference" / "network_template.py"
FILE = "network_template.py"
CHEAP = ("5a", "5b", "5c")  # the questions every mutant and variant is graded at

GRAD_W = "            gw[i] = np.dot(delta, As[i].T) + self.l2 * self.weights[i]\n"
GRAD_B = "            gb[i] = np.sum(delta, axis=1, keepdims=True)\n"
LOSS = "        return cross_entropy(target, output) + 0.5 * self.l2 * penalty\n"
DELTA = "        delta = softmax_dLdZ(output, target) / m\n"
ADAM_T = "            self.t += 1\n"
CORRECT = """                m_w = self.m_w[i] / (1 - b1 ** self.t)
                v_w = self.v_w[i] / (1 - b2 ** self.t)
                m_b = self.m_b[i] / (1 - b1 ** self.t)
                v_b = self.v_b[i] / (1 - b2 ** self.t)
"""
CROSS_ENTROPY = ("    y_pred = np.clip(y_pred, epsilon, 1.0 - epsilon)\n"
                 "    return -np.sum(y_true * np.log(y_pred)) / y_pred.shape[1]\n")
GUARDED = "    return -np.sum(y_true * np.log(y_pred + 1e-9)) / y_pred.shape[1]\n"  # the course's
SCHEDULE = "            eta_current = eta * np.exp(-k * j)\n"
UPDATE_CALL = "                self.update_network(gw, gb, eta_current)\n"
SGD = """                self.weights[i] -= eta * gw[i]
                self.biases[i] -= eta * gb[i]
"""
FORWARD_ACT = "            activation = softmax(z) if i == len(self.weights) - 1 else sigmoid(z)\n"
BACKWARD_ACT = "                delta = np.dot(self.weights[i].T, delta) * sigmoid_prime(Zs[i - 1])\n"


@dataclass(frozen=True)
class Mutant(EditsOneFile):
    """One characteristic student bug (or, in VARIANTS, a correct rewrite)."""

    reference: ClassVar[Path] = REFERENCE

    name: str
    edits: tuple[tuple[str, str], ...]  # (old, new) replacements in network_template.py
    loses: str  # the question it must lose points at ("" for a variant)
    bug: str  # what a student did
    says: str = ""  # a phrase the feedback of that question must contain



MUTANTS = (
    # 5a: L2 and the gradients
    Mutant("l2_over_m", ((GRAD_W, GRAD_W.replace("self.l2 *", "self.l2 / m *")),
                         (LOSS, LOSS.replace("penalty\n", "penalty / output.shape[1]\n"))),
           "5a", "L2 divided by the batch size", says="divided by the batch size m"),
    Mutant("l2_over_n_train", ((GRAD_W, GRAD_W.replace("self.l2 *", "self.l2 / 49000 *")),
                               (LOSS, LOSS.replace("penalty\n", "penalty / 49000\n"))),
           "5a", "L2 divided by the training set size", says="divided by the number of training"),
    Mutant("two_l2", ((GRAD_W, GRAD_W.replace("self.l2 *", "2 * self.l2 *")),),
           "5a", "the L2 gradient 2 * l2 * W", says="the L2 gradient is 2 * l2 * W"),
    Mutant("biases_regularised", ((GRAD_B, GRAD_B.replace("\n", " + self.l2 * self.biases[i]\n")),
                                  (LOSS, LOSS.replace("penalty\n", "(penalty + sum(np.sum(b ** 2) "
                                                                   "for b in self.biases))\n"))),
           "5a", "the biases regularised", says="biases"),
    Mutant("l2_in_loss_only", ((GRAD_W, GRAD_W.replace(" + self.l2 * self.weights[i]", "")),),
           "5a", "L2 in the loss but not in the gradient", says="the L2 term is missing from gw"),
    Mutant("l2_applied_twice", ((SGD, SGD.replace("eta * gw[i]", "eta * (gw[i] + self.l2 * "
                                                                  "self.weights[i])")),),
           "5a", "L2 in backward_pass and again in update_network", says="applied twice"),
    Mutant("summed_gradients", ((DELTA, DELTA.replace(" / m", "")),), "5a",
           "gradients summed over the batch, not averaged", says="do not sum"),
    Mutant("first_layer_never_updated", (
        ("        gw, gb = [None] * len(self.weights), [None] * len(self.biases)\n"
         "        for i in range(len(self.weights) - 1, -1, -1):\n",
         "        gw = [np.zeros(w.shape) for w in self.weights]\n"
         "        gb = [np.zeros(b.shape) for b in self.biases]\n"
         "        for i in range(len(self.weights) - 1, 0, -1):\n"),), "5a",
        "the backward loop stops before the first layer", says="first layer's gradient is all zeros"),
    Mutant("guarded_l2_without_half", ((CROSS_ENTROPY, GUARDED), (LOSS, LOSS.replace("0.5 * ", ""))),
           "5a", "the template's guarded cross_entropy (1e-9 in the log) and an L2 term "
           "without its 1/2: the guard is accepted, the L2 bug is not",
           says="the handout's has a factor 1/2"),
    Mutant("loss_not_written", ((LOSS, "        raise NotImplementedError\n"),
                                 ("        penalty = sum(np.sum(w ** 2) for w in self.weights)\n", "")),
           "5a", "loss() left as the template's stub: the gradients are judged all the same",
           says="loss(output, Y): not implemented yet"),
    # 5b: Adam
    Mutant("adam_no_bias_correction", ((CORRECT, CORRECT.replace(" / (1 - b1 ** self.t)", "")
                                        .replace(" / (1 - b2 ** self.t)", "")),),
           "5b", "Adam without bias correction", says="no bias correction"),
    Mutant("adam_one_minus_beta", ((CORRECT, CORRECT.replace(" ** self.t", "")),),
           "5b", "(1 - beta) in place of (1 - beta^t)", says="is the power missing"),
    Mutant("adam_t_never_incremented", ((ADAM_T, ""), ("self.t = 0  # Adam steps", "self.t = 1  # Adam steps")),
           "5b", "t never incremented", says="is t never incremented"),
    Mutant("adam_t_reset_every_epoch", ((SCHEDULE, SCHEDULE + "            if self.optimizer == "
                                         "\"adam\":\n                self.t = 0\n"),),
           "5b", "t reset at every epoch", says="t restarts at every epoch"),
    Mutant("adam_wrong_beta2", (("self.beta1, self.beta2, self.epsilon = 0.9, 0.999, 1e-8",
                                 "self.beta1, self.beta2, self.epsilon = 0.9, 0.99, 1e-8"),),
           "5b", "beta2 = 0.99", says="beta2 = 0.99"),
    Mutant("adam_no_bias_correction_beta2", (
        (CORRECT, CORRECT.replace(" / (1 - b1 ** self.t)", "").replace(" / (1 - b2 ** self.t)", "")),
        ("self.beta1, self.beta2, self.epsilon = 0.9, 0.999, 1e-8",
         "self.beta1, self.beta2, self.epsilon = 0.9, 0.99, 1e-8")),
        "5b", "two bugs at once: no bias correction and beta2 = 0.99",
        says="no bias correction: m_hat = m / (1 - beta1^t) and v_hat = v / (1 - beta2^t) are "
             "missing; also wrong default: beta2 = 0.99"),
    Mutant("adam_no_bias_correction_eps", (
        (CORRECT, CORRECT.replace(" / (1 - b1 ** self.t)", "").replace(" / (1 - b2 ** self.t)", "")),
        ("self.beta1, self.beta2, self.epsilon = 0.9, 0.999, 1e-8",
         "self.beta1, self.beta2, self.epsilon = 0.9, 0.999, 1e-7")),
        "5b", "two bugs at once: no bias correction and eps = 1e-7",
        says="are missing; also wrong default: eps = 1e-07"),
    Mutant("adam_wrong_eps", (("self.beta1, self.beta2, self.epsilon = 0.9, 0.999, 1e-8",
                               "self.beta1, self.beta2, self.epsilon = 0.9, 0.999, 1e-7"),),
           "5b", "epsilon 1e-7", says="eps = 1e-07"),
    # 5c: the schedule
    Mutant("decay_per_iteration", ((SCHEDULE, "            eta_current = eta * np.exp(-k * j * "
                                              "-(-n // mini_batch_size))\n"),
                                   (UPDATE_CALL, UPDATE_CALL + "                eta_current = eta * "
                                    "np.exp(-k * (j * -(-n // mini_batch_size) + batches + 1))\n")),
           "5c", "the schedule applied per iteration", says="per iteration"),
    Mutant("decay_reset_every_minibatch", ((UPDATE_CALL, UPDATE_CALL + "                eta_current = eta\n"),),
           "5c", "the learning rate reset every minibatch (the template's line kept)",
           says="reset to eta after the first minibatch"),
    Mutant("decay_set_after_update", (
        (SCHEDULE, ""), ("        for j in range(epochs):\n",
                         "        eta_current = eta\n        for j in range(epochs):\n"),
        (UPDATE_CALL, UPDATE_CALL + "                eta_current = eta * np.exp(-k * j)\n")),
        "5c", "the rate set after update_network (the template's place): one step late",
        says="the rate is set after update_network"),
    Mutant("decay_per_iteration_lagged", (
        (SCHEDULE, ""), ("        for j in range(epochs):\n",
                         "        eta_current = eta\n        for j in range(epochs):\n"),
        (UPDATE_CALL, UPDATE_CALL + "                eta_current = eta * np.exp(-k * (j * "
                                    "-(-n // mini_batch_size) + batches))\n")),
        "5c", "the schedule per iteration, set after update_network",
        says="per iteration (t counts minibatches): t is the epoch; also the rate is set after "
             "update_network"),
    Mutant("decay_reset_each_epoch", (
        (SCHEDULE, "            eta_current = eta\n"),
        (UPDATE_CALL, UPDATE_CALL + "                eta_current = eta * np.exp(-k * j)\n")),
        "5c", "the rate reset to eta at each epoch's start and decayed after update_network",
        says="reset to eta at the start of each epoch"),
    Mutant("decay_inverse_time", ((SCHEDULE, "            eta_current = eta / (1 + k * j)\n"),),
           "5c", "inverse-time decay", says="inverse-time decay"),
)

def _main_at_top_level() -> tuple[str, str]:
    """The reference's __main__ block, and the same lines at top level: the public
    template's style, which trains (and reads the data) at import."""
    text = REFERENCE.read_text()
    block = text[text.index('if __name__ == "__main__":\n'):]
    body = block.split("\n", 1)[1]
    return block, "\n".join(line[4:] for line in body.split("\n"))


VARIANTS = (
    Mutant("trains_at_import", (_main_at_top_level(),), "",
           "the driver at top level, no __main__ guard (the public template's style)"),
    Mutant("relu_hidden", ((FORWARD_ACT, FORWARD_ACT.replace("sigmoid(z)", "np.maximum(0, z)")),
                           (BACKWARD_ACT, BACKWARD_ACT.replace("sigmoid_prime(Zs[i - 1])",
                                                               "(Zs[i - 1] > 0)"))),
           "", "ReLU hidden layers"),
    Mutant("global_net_in_train", (("gw, gb = self.backward_pass(output, y, Zs, As)",
                                    "gw, gb = net.backward_pass(output, y, Zs, As)"),),
           "", "train() calls the module's global net, as the course template does"),
    Mutant("extra_optional_arguments", (
        ("    def update_network(self, gw, gb, eta):", "    def update_network(self, gw, gb, eta, t=None):"),
        ("mini_batch_size, eta, k=0.0, verbose=False):",
         "mini_batch_size, eta, k=0.0, lmbda=None, verbose=True, seed=None):"),
        (UPDATE_CALL, UPDATE_CALL.replace("eta_current)", "eta_current, batches)"))),
        "", "extra optional arguments, printing in train()"),
    Mutant("decay_named_freely", (("mini_batch_size, eta, k=0.0, verbose=False):",
                                   "mini_batch_size, eta, decay_rate=0.0):"),
                                  (SCHEDULE, SCHEDULE.replace("-k *", "-decay_rate *")),
                                  ("            if verbose:\n", "            if False:\n")),
           "", "the decay rate as train()'s eighth parameter under another name"),
    Mutant("update_with_required_t", (
        ("    def update_network(self, gw, gb, eta):", "    def update_network(self, gw, gb, eta, t):"),
        (ADAM_T, ""), (CORRECT, CORRECT.replace("self.t", "t")),
        ("        n = training_data.shape[1]\n", "        n = training_data.shape[1]\n        steps = 0\n"),
        (UPDATE_CALL, "                steps += 1\n                self.update_network(gw, gb, "
                      "eta_current, steps)\n")),
        "", "update_network takes the step count t from train() (a required argument)"),
    Mutant("comprehensions_and_recursion", (
        ("""        activation = input
        Zs, As = [], [activation]
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = np.dot(w, activation) + b
            Zs.append(z)
            activation = softmax(z) if i == len(self.weights) - 1 else sigmoid(z)
            As.append(activation)
        return activation, Zs, As
""", """        def layer(i, a, Zs, As):
            if i == len(self.weights):
                return a, Zs, As
            z = self.weights[i] @ a + self.biases[i]
            a = softmax(z) if i == len(self.weights) - 1 else sigmoid(z)
            return layer(i + 1, a, Zs + [z], As + [a])
        return layer(0, input, [], [input])
"""),
        (SGD, """                pass
            self.weights = [w - eta * g for w, g in zip(self.weights, gw)]
            self.biases = [b - eta * g for b, g in zip(self.biases, gb)]
""")),
        "", "forward pass by recursion, SGD step by list comprehensions"),
    Mutant("cross_entropy_guarded", ((CROSS_ENTROPY, GUARDED),), "",
           "the course template's cross_entropy: 1e-9 added inside the log (a numerical "
           "guard), no clipping"),
)

# 5d (issue 19): train() runs and the observers in its child see what a learning run shows
# (backward_pass given outputs whose loss falls, update_network called every step), but
# the network's weights never change: both 5d checks must fail on the grader's evidence
# (the weights as built, the test accuracy of its own forward pass).
BACKWARD_AND_UPDATE = ("                gw, gb = self.backward_pass(output, y, Zs, As)\n"
                       + UPDATE_CALL)
NEVER_LEARNS = (
    Mutant("fakes_a_falling_loss_never_updates", ((BACKWARD_AND_UPDATE, """\
                fake = output + min(1.0, batches / 50) * (y - output)
                gw, gb = self.backward_pass(fake, y, Zs, As)
                self.update_network([0 * g for g in gw], [0 * g for g in gb], eta_current)
"""),), "5d", "a decoy output's loss falls, updates of zero",
           says="left the weights and biases as Network() built them"),
)
