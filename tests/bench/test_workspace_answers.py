"""Reading the files out of a model's one answer."""

from workspace_answers import files_in_reply, request_for

CODE = "def f():\n    return 1\n"


def test_a_block_is_named_by_its_first_line_comment() -> None:
    reply = f"Here it is:\n```python\n# solution.py\n{CODE}```\n"
    assert files_in_reply(reply) == {"solution.py": CODE}


def test_a_block_is_named_by_its_info_string_or_the_line_above() -> None:
    reply = (
        f"```python helpers.py\n{CODE}```\n\n"
        f"**solution.py**\n```python\nfrom helpers import f\n```\n\n"
        f"# File: extra.py\n```py\n{CODE}```"
    )
    assert files_in_reply(reply) == {
        "helpers.py": CODE,
        "solution.py": "from helpers import f\n",
        "extra.py": CODE,
    }


def test_comment_lines_naming_files_split_one_block_into_files() -> None:
    reply = f"```python\n# helpers.py\n{CODE}\n# solution.py\nfrom helpers import f\n```"
    assert files_in_reply(reply) == {"helpers.py": CODE, "solution.py": "from helpers import f\n"}


def test_one_unnamed_block_is_the_module_and_two_are_nothing() -> None:
    assert files_in_reply(f"```python\n{CODE}```") == {"solution.py": CODE}
    assert files_in_reply(f"```python\n{CODE}```\nand\n```python\n{CODE}```") == {}


def test_paths_out_of_the_project_and_other_languages_are_ignored() -> None:
    assert files_in_reply(f"```python\n# ../evil.py\n{CODE}```") == {}
    assert files_in_reply(f"```python /etc/x.py\n{CODE}```") == {}
    assert files_in_reply("```bash\n# run.py\npytest\n```") == {}


def test_the_last_block_for_a_path_wins() -> None:
    reply = f"```python\n# solution.py\nx = 1\n```\n```python\n# solution.py\n{CODE}```"
    assert files_in_reply(reply) == {"solution.py": CODE}


def test_the_request_shows_every_file_and_the_report() -> None:
    prompt = request_for("Fix it.", {"solution.py": CODE, "test_solution.py": "t\n"}, "1 failed")
    assert prompt.startswith("Fix it.")
    assert "solution.py:\n```python\ndef f():" in prompt
    assert "test_solution.py:\n```python\nt\n```" in prompt
    assert "Output of `pytest`:\n```\n1 failed\n```" in prompt
