import ast

from workprint.events import Action
from workprint.export.common import Screen, action_code, action_struct

SCREEN = Screen(1920, 1080)


def code(kind, **kw):
    return action_code(Action(kind, 0, 0, **kw), SCREEN)


def test_codes():
    assert code("click", x=500, y=500, button="left") == "pyautogui.click(x=0.2604, y=0.4630)"
    assert code("doubleClick", x=0, y=1079, button="left") == "pyautogui.doubleClick(x=0.0000, y=0.9991)"
    assert code("tripleClick", x=10, y=10, button="right") == "pyautogui.tripleClick(x=0.0052, y=0.0093, button='right')"
    assert code("rightClick", x=1919, y=0, button="right") == "pyautogui.rightClick(x=0.9995, y=0.0000)"
    assert code("middleClick", x=960, y=540, button="middle") == "pyautogui.middleClick(x=0.5000, y=0.5000)"
    assert code("drag", x=100, y=100, x2=200, y2=300, button="left") == (
        "pyautogui.moveTo(x=0.0521, y=0.0926)\npyautogui.dragTo(x=0.1042, y=0.2778, button='left')")
    assert code("scroll", x=960, y=540, dy=-3) == "pyautogui.scroll(-3, x=0.5000, y=0.5000)"
    assert code("hscroll", x=960, y=540, dx=2) == "pyautogui.hscroll(2, x=0.5000, y=0.5000)"
    assert code("press", keys=("enter",)) == "pyautogui.press('enter')"
    assert code("hotkey", keys=("ctrl", "c")) == "pyautogui.hotkey('ctrl', 'c')"
    assert code("end", ok=True) == "computer.terminate(status='success')"
    assert code("end", ok=False) == "computer.terminate(status='failure')"
    assert code("click", x=1, y=1, button="left", keys=("ctrl",)) == (
        "pyautogui.keyDown('ctrl')\npyautogui.click(x=0.0005, y=0.0009)\npyautogui.keyUp('ctrl')")


def test_write_text_exact_roundtrip():
    text = "It's a \"test\" \\ with\nnewline\ttab é ✓ <PASSWORD>"
    c = code("write", text=text)
    call = ast.parse(c).body[0].value
    assert call.keywords[0].arg == "message"
    assert ast.literal_eval(call.keywords[0].value) == text


def test_normalized_coordinates_roundtrip_exactly():
    for w, h in ((1920, 1080), (3840, 2160), (1366, 768)):
        s = Screen(w, h)
        for x in range(0, w, 7):
            assert round(s.nx(x) * w) == x


def test_struct_keeps_pixels_and_screen():
    d = action_struct(Action("drag", 0, 0, x=1, y=2, x2=3, y2=4, button="left"), Screen(1920, 1080, 2.0))
    assert d["x"] == 1 and d["y2"] == 4 and d["screen"] == {"width": 1920, "height": 1080, "scale": 2.0}
    assert d["type"] == "drag" and d["button"] == "left" and 0 <= d["nx2"] <= 1
