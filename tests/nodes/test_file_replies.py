"""The files a model's answer gives, however a small model names them."""

from __future__ import annotations

import pytest

from nodes.file_replies import files_in_reply

CODE = "def f(x):\n    return x + 1\n"


def test_an_answer_gives_files_under_their_paths() -> None:
    answer = (
        "Here is the fix.\n\nparser.py\n```python\ndef parse(s):\n    return s.split()\n```\n"
        "And a helper:\n\n```python util/strings.py\nX = 1\n```\n"
        "**tests/test_new.py**\n```\ndef test_x():\n    assert True\n```\n"
        "A snippet with no path:\n```python\nprint('hi')\n```\n"
    )
    assert files_in_reply(answer) == {
        "parser.py": "def parse(s):\n    return s.split()\n",
        "util/strings.py": "X = 1\n",
        "tests/test_new.py": "def test_x():\n    assert True\n",
    }


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside.py", "a/../../b.py"])
def test_a_path_outside_the_workspace_is_never_a_file(path: str) -> None:
    assert files_in_reply(f"{path}\n```python\nX = 1\n```\n") == {}


def test_a_naming_comment_or_the_line_above_names_the_file() -> None:
    assert files_in_reply(f"```python\n# solution.py\n{CODE}```") == {"solution.py": CODE}
    assert files_in_reply(f"### helpers.py:\n```python\n{CODE}```") == {"helpers.py": CODE}
    two = f"```python\n# helpers.py\n{CODE}# solution.py\nfrom helpers import f\n```"
    assert files_in_reply(two) == {"helpers.py": CODE, "solution.py": "from helpers import f\n"}


def test_one_unnamed_block_is_the_file_the_request_is_about_only_when_told() -> None:
    assert files_in_reply(f"```python\n{CODE}```") == {}
    assert files_in_reply(f"```python\n{CODE}```", "app/core.py") == {"app/core.py": CODE}
    two = f"```python\n{CODE}```\nand\n```python\n{CODE}```"
    assert files_in_reply(two, "app/core.py") == {}


def test_a_shell_block_is_not_a_file() -> None:
    assert files_in_reply("```bash\n# run.py\npytest\n```", "solution.py") == {}
