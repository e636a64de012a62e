"""The command line: the main job's report, and one-line errors with exit status 2."""

import subprocess
import sys

import chainrule.cli as cli


def test_default_run_reports_both_conventions_and_the_planted_bug(capsys):
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert "convention 'deferred' (1/m in dW and db)" in out
    assert "convention 'absorbed' (1/m in dZ[L])" in out
    assert out.count("passed (threshold 2e-07") == 2
    assert "FAILED" in out and "layers pointed at: 1, 2, 3" in out


def test_options(capsys):
    assert cli.main(["gradcheck", "--layer-dims", "4,5,3", "--hidden-activation", "relu",
                     "--output", "softmax", "-m", "7", "--seed", "4"]) == 0
    out = capsys.readouterr().out
    assert "Network [4, 5, 3]: relu hidden layers, softmax output; m = 7" in out


def _run(*args):
    return subprocess.run([sys.executable, "-m", "chainrule", *args], capture_output=True, text=True)


def test_subprocess_main_job():
    done = _run()
    assert done.returncode == 0, done.stderr
    assert "layers pointed at" in done.stdout


def test_user_mistakes_end_in_one_line_and_status_2():
    for args, message in [
        (["--hidden-activation", "swish"], "unknown activation 'swish'"),
        (["--output", "softmax", "--layer-dims", "2,3,1"], "softmax output needs n_y ≥ 2"),
        (["--layer-dims", "2,0,1"], "positive integers"),
        (["-m", "0"], "at least 1 example"),
        (["--layer-dims", "2,x"], "comma-separated integers"),
    ]:
        done = _run(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr
        assert "Traceback" not in done.stderr


def test_debug_shows_the_traceback():
    done = _run("--hidden-activation", "swish", "--debug")
    assert done.returncode != 0 and "Traceback" in done.stderr
