"""grader/rubric.py: the shipped rubric is consistent, and a broken one is refused clearly."""
import re

import pytest

from grader.core.rubric import spec as rubric
from grader.core.errors import GraderError, RubricError

RUBRIC = rubric.load()
TEXT = rubric.RUBRIC_PATH.read_text()


def test_auto_questions_add_up():
    for q in RUBRIC.questions:
        if q.graded == "auto":
            assert q.checks, q.id
            assert sum(c.points for c in q.checks) == pytest.approx(q.points), q.id
        else:
            assert all(c.points == 0 for c in q.checks), q.id  # informational only


def test_check_ids_start_with_their_question():
    for q in RUBRIC.questions:
        for c in q.checks:
            assert c.id.startswith(q.id + "."), c.id
            assert c.question == q.id


def test_part1_points():
    part1 = {q.id: (q.points, q.graded) for q in RUBRIC.questions if q.part == 1}
    assert part1 == {
        "1a": (4, "auto"), "1b": (4, "auto"), "1c": (2, "auto"), "2d": (5, "auto"),
        "3a": (3, "auto"), "3b": (7, "auto"),
        "2a": (2, "manual"), "2b": (2, "manual"), "2c": (6, "manual"),
    }
    assert [q.id for q in RUBRIC.manual if q.part == 1] == ["2a", "2b", "2c"]
    assert sum(c.points for q in RUBRIC.questions if q.part == 1 for c in q.checks) == 25


def test_values_per_dataset_kind():
    check = RUBRIC.check("4b.2")
    assert check.value("threshold", "real") == 0.48
    assert check.value("threshold", "synthetic") == 0.45
    assert RUBRIC.check("1b.1").value("reg") == 0.05  # a plain value ignores the kind
    with pytest.raises(RubricError, match="no parameter 'nope'"):
        check.value("nope")
    with pytest.raises(RubricError, match="no entry for None"):
        check.value("threshold")
    assert check.get("nope", 7) == 7


def test_limits_for_applies_overrides():
    check = RUBRIC.check("3b.2")
    limits = RUBRIC.limits_for(check, "real")
    assert (limits.wall_seconds, limits.cpu_seconds, limits.memory_mb) == (540, 540, 3072)
    assert limits.output_kb == RUBRIC.limits.output_kb
    assert RUBRIC.limits_for(RUBRIC.check("1a.1")) == RUBRIC.limits


def test_lookup_of_unknown_ids():
    with pytest.raises(RubricError, match="no check '9z.1'"):
        RUBRIC.check("9z.1")
    with pytest.raises(RubricError, match="no question '9z'"):
        RUBRIC.question("9z")


def test_rubric_is_frozen():
    with pytest.raises(TypeError):
        RUBRIC.check("3b.2").params["threshold"] = {}  # MappingProxyType
    assert issubclass(RubricError, GraderError)


def _broken(tmp_path, old, new, count=1):
    assert TEXT.count(old) >= count, old
    path = tmp_path / "rubric.toml"
    path.write_text(TEXT.replace(old, new, count))
    return path


def test_a_copy_loads(tmp_path):
    path = tmp_path / "rubric.toml"
    path.write_text(TEXT)
    assert rubric.load(path) == RUBRIC


@pytest.mark.parametrize("old, new, message", [
    # question 1a without its points
    ('id = "1a"\ntitle = "Forward pass: softmax probabilities"\npart = 1\npoints = 4\n',
     'id = "1a"\ntitle = "Forward pass: softmax probabilities"\npart = 1\n',
     "question 1a: missing 'points'"),
    # a check without its points
    ('id = "1a.1"\n  name = "toy problem: probabilities match the handout\'s"\n  points = 2\n',
     'id = "1a.1"\n  name = "toy problem: probabilities match the handout\'s"\n',
     "check 1a.1: missing 'points'"),
    # checks no longer add up to the question's points
    ('id = "1b.1"\n  name = "toy problem: loss with reg=0.05 is 1.30378789133"\n  points = 2',
     'id = "1b.1"\n  name = "toy problem: loss with reg=0.05 is 1.30378789133"\n  points = 3',
     "question 1b: checks add up to 5.0, not 4.0"),
    ('visibility = "after_due_date"', 'visibility = "later"',
     "visibility 'later' not in"),
    ('id = "1a.2"', 'id = "1a.1"', "duplicate question or check ids"),
    ('id = "1a.2"', 'id = "1b.9"', "must start with its question id '1a'"),
    ('graded = "manual"', 'graded = "by hand"', "graded must be 'auto' or 'manual'"),
    ('threshold = { real = 0.48, synthetic = 0.45 }', 'threshold = { real = 0.48, fake = 0.4 }',
     "threshold keys must be among"),
    ('[sandbox]\n', '[sandbox]\nnot_a_limit = 1\n', "not_a_limit"),
    ('[rubric]\n', '[rubric\n', "cannot read rubric"),
])
def test_broken_rubric_is_refused(tmp_path, old, new, message):
    path = _broken(tmp_path, old, new)
    with pytest.raises(RubricError, match=re.escape(message)):
        rubric.load(path)


def test_manual_question_with_checks_is_refused(tmp_path):
    old = 'graded = "manual"\n\n[[question]]\nid = "2b"'
    new = ('graded = "manual"\n\n  [[question.check]]\n  id = "2a.1"\n  name = "x"\n'
           '  points = 2\n\n[[question]]\nid = "2b"')
    with pytest.raises(RubricError, match="2a is graded manually but lists checks"):
        rubric.load(_broken(tmp_path, old, new))


def test_manual_question_may_list_informational_checks_only(tmp_path):
    """A manual question's checks run and are reported, worth 0 points (4c's depth
    experiment); the question stays in the list graded by hand."""
    old = 'graded = "manual"\n\n[[question]]\nid = "2b"'
    new = ('graded = "manual"\n\n  [[question.check]]\n  id = "2a.1"\n  name = "x"\n'
           '  points = 0\n  visibility = "after_due_date"\n\n[[question]]\nid = "2b"')
    loaded = rubric.load(_broken(tmp_path, old, new))
    assert loaded.check("2a.1").points == 0
    assert "2a" in [q.id for q in loaded.manual]
    assert "2a.1" in [c.id for c in loaded.checks]
    shipped = rubric.load()
    assert [c.points for c in shipped.question("4c").checks] == [0]
    assert shipped.needs_data(["4c"])


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(RubricError, match="cannot read rubric"):
        rubric.load(tmp_path / "absent.toml")


@pytest.mark.parametrize("line, key", [("seed = 20260531\n", "seed"),
                                       ('version = "2026.11-part1"\n', "version")])
def test_rubric_header_without_a_field_is_refused(tmp_path, line, key):
    with pytest.raises(RubricError, match=rf"\[rubric\]: missing '{key}'"):
        rubric.load(_broken(tmp_path, line, ""))


# -- how a trained model is judged: mode "retrain" or "checkpoint" --------------------------

def test_3b_ships_in_retrain_mode_with_checkpoint_settings_ready():
    assert RUBRIC.question("3b").mode == "retrain"
    assert {q.mode for q in RUBRIC.questions} == {"retrain"}  # the default elsewhere
    assert RUBRIC.check("3b.2").value("checkpoint") == "checkpoints/two_layernet.npz"
    assert RUBRIC.check("3b.2").value("require_progress") is True
    progress = RUBRIC.check("3b.1")
    assert progress.value("progress_iters", "real") == 300
    assert 0 < progress.value("min_loss_drop", "synthetic") < 1
    # the progress run's budget is 3b.1's; the retraining's stays 3b.2's
    assert RUBRIC.limits_for(progress, "real").wall_seconds < \
        RUBRIC.limits_for(RUBRIC.check("3b.2"), "real").wall_seconds


def test_checkpoint_mode_is_one_line(tmp_path):
    path = _broken(tmp_path, 'mode = "retrain"\n', 'mode = "checkpoint"\n')
    assert rubric.load(path).question("3b").mode == "checkpoint"


CHECKPOINT_LINE = 'checkpoint = "checkpoints/two_layernet.npz"\n'


@pytest.mark.parametrize("old, new, message", [
    ('mode = "retrain"\n', 'mode = "checkpoints"\n',
     "question 3b: mode 'checkpoints' must be one of 'retrain', 'checkpoint'"),
    ('mode = "retrain"\n', 'mdoe = "checkpoint"\n', "question 3b: unknown key 'mdoe'"),
    (CHECKPOINT_LINE, 'checkpoint = "/srv/two_layernet.npz"\n',
     "check 3b.2: checkpoint should be a relative path inside the submission to an .npz file"),
    (CHECKPOINT_LINE, 'checkpoint = "../two_layernet.npz"\n', "checkpoint should be a relative"),
    (CHECKPOINT_LINE, 'checkpoint = "checkpoints/net.pkl"\n', "checkpoint should be a relative"),
    (CHECKPOINT_LINE, 'checkpoint = { real = "a.npz", synthetic = "b.npz" }\n',
     "check 3b.2: checkpoint is one file name, not a table per dataset kind"),
    ("max_checkpoint_mb = 64\n", "max_checkpoint_mb = 0\n",
     "check 3b.2: max_checkpoint_mb should be a positive number of MB, got 0"),
    ("max_checkpoint_mb = 64\n", "",
     "check 3b.2: max_checkpoint_mb is missing; checkpoint, max_checkpoint_mb, "
     "require_progress go together"),
    ("require_progress = true\n", 'require_progress = "yes"\n',
     "require_progress should be true or false, got 'yes'"),
    ("progress_iters = 300\n", "progress_iters = 0\n",
     "check 3b.1: progress_iters should be a positive whole number of iterations, got 0"),
    ("progress_iters = 300\n", "progress_iters = { real = 300, synthetic = 2.5 }\n",
     "progress_iters should be a positive whole number of iterations, got 2.5"),
    ("progress_iters = 300\n", "", "check 3b.1: progress_iters is missing"),
    ("progress_iters = 300\n", "progress_iters = inf\n",
     "progress_iters should be a positive whole number of iterations, got inf"),
    ("max_checkpoint_mb = 64\n", "max_checkpoint_mb = nan\n",
     "max_checkpoint_mb should be a positive number of MB, got nan"),
    ("progress_rows = { real = 10000, synthetic = 4000 }\n", "progress_rows = -1\n",
     "check 3b.1: progress_rows should be a positive whole number of training rows, got -1"),
    ("min_loss_drop = 0.03\n", "min_loss_drop = 1.5\n",
     "min_loss_drop should be a fraction in (0, 1) of the first logged loss, got 1.5"),
    ("min_acc_above_chance = 0.10\n", "min_acc_above_chance = true\n",
     "min_acc_above_chance should be a fraction in (0, 1)"),
    # the accuracy check's settings moved onto the progress check as well
    ("  progress_iters = 300\n", "  progress_iters = 300\n  " + CHECKPOINT_LINE
     + "  max_checkpoint_mb = 64\n  require_progress = true\n",
     "question 3b: checkpoint appears on checks 3b.1, 3b.2; one check judges the submitted"),
])
def test_broken_mode_settings_are_refused(tmp_path, old, new, message):
    with pytest.raises(RubricError, match=re.escape(message)):
        rubric.load(_broken(tmp_path, old, new))


def test_checkpoint_mode_without_its_settings_is_refused(tmp_path):
    part1, part2 = TEXT.split('id = "4a"', 1)  # 3b's settings only (4b has its own)
    text = part1.replace('mode = "retrain"\n', 'mode = "checkpoint"\n')
    for line in (CHECKPOINT_LINE, "max_checkpoint_mb = 64\n", "require_progress = true\n"):
        text = text.replace("  " + line, "")
    text += 'id = "4a"' + part2
    path = tmp_path / "rubric.toml"
    path.write_text(text)
    with pytest.raises(RubricError, match=re.escape(
            "question 3b: mode 'checkpoint' needs a check with checkpoint, max_checkpoint_mb, "
            "require_progress (the submitted weights")):
        rubric.load(path)
    # the same file in retrain mode is fine: the settings only matter for checkpoints
    path.write_text(text.replace('mode = "checkpoint"\n', 'mode = "retrain"\n'))
    assert rubric.load(path).question("3b").mode == "retrain"


def test_datasets_needed_and_the_run_summary_of_several():
    """Each dataset a selection trains on, in rubric order; a run over several names each
    kind and joins their notes (grade prepares each once)."""
    from types import SimpleNamespace

    from grader.core.cli import dataset_summary
    from grader.core.errors import DataError
    shipped = rubric.load()
    assert shipped.datasets_needed({"1a", "1b"}) == ()
    assert shipped.datasets_needed({"3b"}) == ("cifar10",)
    assert shipped.datasets_needed() == ("cifar10", "mnist")
    prepared = {"cifar10": SimpleNamespace(kind="synthetic", note="Synthetic CIFAR."),
                "mnist": SimpleNamespace(kind="subset", note="MNIST subset.")}
    context = SimpleNamespace(rubric=shipped, data=lambda name: prepared[name])
    assert dataset_summary(context, {"3b"}) == ("synthetic", "Synthetic CIFAR.")
    assert dataset_summary(context, None) == ("cifar10: synthetic; mnist: subset",
                                              "Synthetic CIFAR. MNIST subset.")
    assert dataset_summary(context, {"1a"})[0] == "not used"

    def missing(name):
        raise DataError("no digits")
    context.data = missing
    assert dataset_summary(context, {"7d"}) == ("unavailable", "Dataset mnist unavailable: no digits")


def test_cases_is_a_count(tmp_path):
    """`cases` counts hidden cases (case seeds derive from it); a list is refused by name."""
    text = rubric.RUBRIC_PATH.read_text().replace("  cases = 4\n", "  cases = [[1, 2]]\n", 1)
    path = tmp_path / "rubric.toml"
    path.write_text(text)
    with pytest.raises(RubricError, match=r"check 1a\.2: cases is the number of hidden cases"):
        rubric.load(path)
