"""A small Qt 5 form for the grounding tests (run with Debian's /usr/bin/python3: PyQt5 comes
from apt, python3-pyqt5; start it with QT_ACCESSIBILITY=1 and QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1
so that Qt talks to the accessibility bus).

    qt_form.py --title T --wmclass C --state FILE [--x X --y Y]

Named controls (push buttons, a check box, a labelled line edit, a password line edit).
Writes FILE (JSON, replaced atomically) once the window is shown and after every change:
its pid, each control's screen geometry as Qt itself places it (``mapToGlobal`` of the
widget's origin, its width and height), clicks per button, the text of the ordinary field,
and of the password field only its length and SHA-256 (its value never leaves the app).
"""

from __future__ import annotations

import hashlib
import sys

from appstate import parse_args, write_state
from PyQt5.QtCore import QPoint, QTimer
from PyQt5.QtWidgets import (QApplication, QCheckBox, QGridLayout, QLabel, QLineEdit, QPushButton,
                             QSizePolicy, QWidget)

BUTTONS = ["Save", "Open", "Close", "Print", "Export", "Help"]


def main() -> None:
    args = parse_args()
    # WM_CLASS: the instance from -name, the class from the application name
    app = QApplication([args.wmclass.lower(), "-name", args.wmclass.lower()])
    app.setApplicationName(args.wmclass)
    win = QWidget()
    win.setWindowTitle(args.title)
    grid = QGridLayout(win)
    widgets: dict[str, QWidget] = {}
    clicks: dict[str, int] = {}

    def count(name):
        clicks[name] = clicks.get(name, 0) + 1
        write()

    for i, name in enumerate(BUTTONS):
        b = QPushButton(name)
        b.setMinimumSize(130, 40)
        b.clicked.connect(lambda _=False, n=name: count(n))
        grid.addWidget(b, i // 3, i % 3)
        widgets[name] = b
    check = QCheckBox("Remember me")
    check.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Fixed)  # its box is its own, not the cell's
    check.toggled.connect(lambda _=False: count("Remember me"))
    grid.addWidget(check, 2, 0)
    widgets["Remember me"] = check
    for row, name in ((3, "File name"), (4, "Password")):
        label = QLabel(name + ":")
        edit = QLineEdit()
        edit.setMinimumSize(400, 36)
        edit.setAccessibleName(name)
        label.setBuddy(edit)
        if name == "Password":
            edit.setEchoMode(QLineEdit.Password)
        edit.textChanged.connect(lambda _="": write())
        grid.addWidget(label, row, 0)
        grid.addWidget(edit, row, 1, 1, 2)
        widgets[name] = edit

    def geometry(w: QWidget) -> dict:
        p = w.mapToGlobal(QPoint(0, 0))
        return {"x": p.x(), "y": p.y(), "w": w.width(), "h": w.height()}

    def write():
        pw = widgets["Password"].text()
        state = {"title": args.title,
                 "widgets": {n: geometry(w) for n, w in widgets.items()},
                 "clicks": clicks, "texts": {"File name": widgets["File name"].text()},
                 "password_len": len(pw), "password_sha256": hashlib.sha256(pw.encode()).hexdigest()}
        write_state(args.state, state)

    win.resize(700, 360)
    win.move(args.x, args.y)
    win.show()
    QTimer.singleShot(500, write)  # after the window manager placed it
    sys.exit(app.exec_())


if __name__ == "__main__":
    main()
