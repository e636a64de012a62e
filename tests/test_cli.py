"""The command line: the main job, the gradient-check report, and one-line errors with exit status 2."""

import subprocess
import sys

import chainrule.cli as cli


def test_default_run_trains_the_planar_classifier(capsys):
    """The course's numbers: cost 0.693048 at epoch 0, 0.288083 at 1000, accuracy over 90 %."""
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert "Cost after epoch 0: 0.693048" in out and "Cost after epoch 1000: 0.288083" in out
    assert out.count("Cost after epoch") == 10
    accuracy = float(out.split("Training accuracy: ")[1].split(" %")[0])
    assert accuracy >= 90


def test_train_options(capsys):
    assert cli.main(["train", "--hidden-layers", "3", "--num-epochs", "500", "--print-every", "250"]) == 0
    out = capsys.readouterr().out
    assert "Training [2, 3, 1]" in out and out.count("Cost after epoch") == 2


def test_gradcheck_reports_both_conventions_and_the_planted_bug(capsys):
    assert cli.main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert "convention 'deferred' (1/m in dW and db)" in out
    assert "convention 'absorbed' (1/m in dZ[L])" in out
    assert out.count("passed (threshold 2e-07") == 2
    assert "FAILED" in out and "layers pointed at: 1, 2, 3" in out


def test_gradcheck_options(capsys):
    assert cli.main(["gradcheck", "--layer-dims", "4,5,3", "--hidden-activation", "relu",
                     "--output", "softmax", "-m", "7", "--seed", "4"]) == 0
    out = capsys.readouterr().out
    assert "Network [4, 5, 3]: relu hidden layers, softmax output; m = 7" in out


def _run(*args):
    return subprocess.run([sys.executable, "-m", "chainrule", *args], capture_output=True, text=True)


def test_subprocess_main_job():
    done = _run("train", "--num-epochs", "1001")
    assert done.returncode == 0, done.stderr
    assert "Cost after epoch 1000: 0.288083" in done.stdout


def test_user_mistakes_end_in_one_line_and_status_2():
    for args, message in [
        (["gradcheck", "--hidden-activation", "swish"], "unknown activation 'swish'"),
        (["gradcheck", "--output", "softmax", "--layer-dims", "2,3,1"], "softmax output needs n_y ≥ 2"),
        (["gradcheck", "--layer-dims", "2,0,1"], "positive integers"),
        (["gradcheck", "-m", "0"], "at least 1 example"),
        (["gradcheck", "--layer-dims", "2,x"], "comma-separated integers"),
        (["train", "--hidden-activation", "softmax"], "for output layers only"),
        (["train", "--learning-rate", "-1"], "learning_rate must be a positive number"),
        (["train", "--learning-rate", "1000", "--num-epochs", "50"], "training diverged"),
        (["train", "--print-every", "0"], "--print-every must be a positive integer"),
    ]:
        done = _run(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr
        assert "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) <= 5  # argparse's usage lines at most, then the message


def test_debug_shows_the_traceback():
    done = _run("gradcheck", "--hidden-activation", "swish", "--debug")
    assert done.returncode != 0 and "Traceback" in done.stderr
