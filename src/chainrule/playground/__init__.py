"""chainrule playground: a local web page that trains a network in front of you and shows every
equation, with the 1/m where it belongs.

    serve(host="127.0.0.1", port=0, open_browser=True)   the command: print the URL, serve until Ctrl-C
    start(host="127.0.0.1", port=0) -> (url, stop)        the same on a background thread (tests, notebooks)

Training runs in Python, in chainrule itself (``chainrule.iterate``, stepped a few epochs per
frame); the page (plain HTML, CSS, JavaScript and MathML, served by this package) draws the
numbers it is sent and loads nothing from anywhere else.

    spec.py      the setup of a run as JSON, checked; the controls from TrainConfig's fields
    uploads.py   CSV files the page uploads, read by datasets.load_csv
    frames.py    the numbers of a picture: the boundary and every hidden unit on a grid
    arrays.py    an equation's array under both conventions; a gradient check with a planted bug
    exports.py   the model file, the history CSV, the equations as LaTeX
    session.py   one page's run, stepped epoch by epoch; a bounded store of them
    server.py    the HTTP server and its JSON protocol
"""

from .server import serve, start

__all__ = ["serve", "start"]
