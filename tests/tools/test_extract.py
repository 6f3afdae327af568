"""Extracting code from realistic model replies."""

from __future__ import annotations

from tools.extract import code_blocks, extract_code


def test_python_fence_with_portuguese_prose_around_it() -> None:
    reply = (
        "Claro! Aqui está um script que soma os números de 1 a 10:\n\n"
        "```python\nnumeros = range(1, 11)\nprint(sum(numeros))\n```\n\n"
        "Explicação: a função `sum` percorre a sequência e devolve o total, 55."
    )
    assert extract_code(reply) == "numeros = range(1, 11)\nprint(sum(numeros))"


def test_py_and_bare_fences_and_several_blocks_are_joined_in_order() -> None:
    reply = (
        "First define it:\n```py\ndef double(x):\n    return 2 * x\n```\n"
        "Then use it:\n```\nprint(double(21))\n```\n"
        "Run with:\n```bash\npython script.py\n```\nOutput:\n```text\n42\n```"
    )
    assert extract_code(reply) == "def double(x):\n    return 2 * x\n\nprint(double(21))"


def test_reply_without_fences_that_is_all_code() -> None:
    reply = "import math\nprint(math.sqrt(16))"
    assert extract_code(reply) == reply


def test_reply_without_fences_with_prose_before_and_after() -> None:
    reply = (
        "Você pode fazer assim:\n"
        "def saudacao(nome):\n    return f'Olá, {nome}!'\nprint(saudacao('Ana'))\n"
        "Isso imprime a saudação."
    )
    assert extract_code(reply) == (
        "def saudacao(nome):\n    return f'Olá, {nome}!'\nprint(saudacao('Ana'))"
    )


def test_prose_only_reply_has_no_code() -> None:
    assert extract_code("Python is dynamically typed; JavaScript too, but differently.") == ""
    assert extract_code("") == ""


def test_only_non_python_blocks_means_nothing_to_run() -> None:
    assert extract_code("Install it:\n```bash\npip install requests\n```") == ""


def test_unclosed_fence_runs_to_the_end_and_crlf_is_handled() -> None:
    reply = "Here:\r\n```python\r\nx = 1\r\nprint(x + 1)\r\n"
    assert extract_code(reply) == "x = 1\nprint(x + 1)"


def test_indented_fence_inside_a_list_and_tilde_fences() -> None:
    reply = "1. Run this:\n   ```python\n   print('a')\n   ```\n2. And:\n~~~python\nprint('b')\n~~~"
    assert extract_code(reply) == "print('a')\n\nprint('b')"


def test_console_transcripts_lose_their_prompts() -> None:
    reply = "```pycon\n>>> x = 3\n>>> print(x * 2)\n6\n```"
    assert extract_code(reply) == "x = 3\nprint(x * 2)"


def test_code_blocks_keep_their_languages() -> None:
    blocks = code_blocks("```python\na = 1\n```\n```json\n{}\n```")
    assert [(b.language, b.code) for b in blocks] == [("python", "a = 1"), ("json", "{}")]
