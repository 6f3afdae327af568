"""Hand-written routing cases, none taken from shared/data: intent in English and Portuguese."""

from __future__ import annotations

EXECUTOR = [
    # Questions whose answer must be computed run code.
    "How many prime numbers are there below 10000? Compute it.",
    "Quantos números primos existem abaixo de 10000? Calcule.",
    "Calcule o fatorial de 25",
    "quanto é 2**100?",
    "What is 123456789 * 987654321?",
    "Quantas letras tem a palavra paralelepípedo? Calcule.",
    "How much is seventeen factorial? Compute it.",
    "Crie um script Python que soma os números de 1 a 10 e mostre o resultado",
    "Escreva uma função em Python que verifica se uma palavra é palíndromo",
    "ESCREVA UMA FUNCAO QUE ORDENA UMA LISTA DE DICIONARIOS PELA CHAVE 'idade'",
    "Implemente uma classe Pilha com push, pop e peek",
    "Refatore este código para usar list comprehension:\n\nresult = []\nfor x in data:\n"
    "    if x > 0:\n        result.append(x * 2)",
    "Corrija o bug nesta função:\n\ndef media(xs):\n    return sum(xs) / len(x)",
    "Write a Python script that downloads a CSV and prints the average of the 'price' column",
    "Implement binary search in Rust",
    "Can you write a bash one-liner that counts the lines of every .py file in a repo?",
    "Generate a SQL query that returns the ten customers with the highest total orders",
    "Fix this:\n```js\nconst total = items.reduce((a, b) => a + b.price)\n```",
    'Why does this fail?\n\nTraceback (most recent call last):\n  File "app.py", line 3, in '
    "<module>\n    print(data['key'])\nKeyError: 'key'",
    'por que isso não funciona?\nTraceback (most recent call last):\n  File "x.py", line 1\n'
    "ZeroDivisionError: division by zero",
    "Optimize this function, it is too slow:\n\ndef fib(n):\n    return n if n < 2 else "
    "fib(n-1) + fib(n-2)",
    "Write unit tests with pytest for a function that parses ISO dates",
    "Convert this Python 2 code to Python 3: print 'hello'",
    "How many files in /etc were modified in the last week?",
    "Quantos arquivos .log existem no diretório /var/log?",
    "Run this script and tell me the output: print(2 ** 10)",
    "Add type hints to this function:\n\ndef add(a, b):\n    return a + b",
    "Write a regex that matches Brazilian CPF numbers like 123.456.789-09",
    "Implemente o algoritmo de Dijkstra em Python e teste com um grafo pequeno",
    "Build a FastAPI endpoint that returns the current time as JSON",
    "Complete the function below so that it returns the n-th prime:\n\ndef nth_prime(n):\n    pass",
    "write a function that flattens a nested list",
    "make a python program that prints the fibonacci sequence up to 100",
    "Debug my code: it prints None instead of the sum\n\ndef soma(a, b):\n    print(a + b)\n\n"
    "print(soma(1, 2))",
    "Desenvolva um programa em Python que lê um arquivo CSV e calcula a média da coluna nota",
    "Check how much disk space is left on this machine",
    "Delete all .tmp files in the current directory",
]

BRAIN = [
    "Explique a diferença entre Python e JavaScript",
    "Explain the difference between a process and a thread",
    "What is the GIL in Python and why does it exist?",
    "Analise e planeje uma solução para reduzir o tempo de resposta do nosso site",
    "Plan a three-month roadmap for migrating our monolith to microservices",
    "Quais são as vantagens de usar PostgreSQL em vez de MongoDB?",
    "Olá, tudo bem?",
    "Hi! Who are you?",
    "Obrigado pela ajuda!",
    "Write a short poem about autumn in Lisbon",
    "Escreva um e-mail educado pedindo um prazo maior ao cliente",
    "Summarize the main ideas of the book Sapiens",
    "What are some good strategies for learning a new language as an adult?",
    "Me dê dicas para uma entrevista de emprego na área de tecnologia",
    "Compare REST and GraphQL for a mobile app backend",
    "Which sorting algorithm is best for nearly sorted data, and why?",
    "Should I learn Rust or Go in 2026?",
    "What does this code do?\n\n```python\nprint(sorted(set(words), key=len))\n```",
    "Explain what this function does:\n\ndef f(xs):\n    return [x for x in xs if x % 2]",
    "Design a strategy to evaluate two LLMs for customer support",
    "Planeje e execute uma análise dos dados de vendas do último trimestre",
    "Plan the architecture of a todo app, then implement the backend in Python",
    "Who won the 2014 World Cup?",
    "Tell me a joke about programmers",
    "How should I structure a team of five engineers working on two products?",
    "Descreva a história da linguagem Python",
    "Give me ideas for a birthday party for a 6-year-old",
    "What is recursion? Explain it to a child.",
    "Resuma este texto: A inteligência artificial generativa mudou a forma como escrevemos "
    "software, mas ainda exige revisão humana.",
    "Is it ethical to use AI to grade student essays?",
]

HYBRID = [
    "Planeje e execute uma tarefa complexa",
    "Planeje uma tarefa complexa e depois execute o código necessário",
    "Plan the architecture of a todo app, then implement the backend in Python",
    "Planeje e execute uma análise dos dados de vendas do último trimestre",
]
