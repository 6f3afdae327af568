"""The cues the router reads: intent words in English and Portuguese, and shapes of text.

Text is matched lowercased and without accents (`análise` → `analise`), so each Portuguese
word is listed once. Weights are signed: positive pulls toward the executor (code work),
negative toward the brain. They encode intent ("write a function", "why does this fail" +
a traceback, "how many files in /usr") and shape (pasted code, a product requirements
document), not the wording of any data set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from orquestra.phrases import PhraseIndex

# ---------------------------------------------------------------------------------------
# Vocabularies (normalised: lowercase, no accents)

CODE_VERBS_EN = (
    r"write|writes|create|implement|code|program|generate|build|develop|make|complete|finish|"
    r"fix|debug|refactor|optimi[sz]e|rewrite|convert|port|translate|modify|extend|add|"
    r"define|compose|craft|produce|design|construct|test"
)
CODE_VERBS_PT = (
    r"escreva|escreve|escrever|crie|cria|criar|implemente|implementa|implementar|gere|gera|"
    r"gerar|faca|faz|fazer|desenvolva|desenvolver|programe|programar|codifique|complete|"
    r"completar|corrija|corrigir|conserte|consertar|depure|depurar|debugue|refatore|refatorar|"
    r"otimize|otimizar|reescreva|converta|converter|adicione|modifique|construa|monte"
)
CODE_NOUNS = (
    r"functions?|methods?|class(es)?|scripts?|programs?|code|snippets?|algorithms?|regex(es)?|"
    r"regular expressions?|quer(y|ies)|sql|bash|shell|commands?|one-liners?|modules?|"
    r"api|endpoints?|unit tests?|tests?|lambdas?|decorators?|cli|parsers?|classes|"
    r"subroutines?|procedures?|recursion|loop|dataframe|components?|dockerfile|makefile|"
    r"plots?|charts?|graficos?|webpage|web page|html page|"
    r"funcao|funcoes|metodos?|classes?|programas?|codigos?|algoritmos?|consultas?|comandos?|"
    r"testes?|rotinas?"
)
# Names that mean a programming language, library or web technology in almost any sentence
# (Swift, Ruby, Django, Go or Java are also singers, films, verbs and islands).
LANGUAGES = (
    r"python|python3|javascript|typescript|c\+\+|golang|php|kotlin|haskell|perl|matlab|sql|"
    r"bash|powershell|node\.?js|pandas|numpy|jupyter|pytorch|tensorflow|scikit-learn|regex|"
    r"matplotlib|seaborn|plotly|flask|fastapi|express\.js|vue\.js|react\.js|jsx|tsx|css|"
    r"html|div|dockerfile|docker-compose|yaml|json|graphql|sqlite|postgresql|mysql|"
    r"spring boot|laravel|jquery|webpack|npm package|pip package"
)
EXPLAIN_EN = (
    r"explain|describe|what is|what are|what's|what was|what does|what do|how does|"
    r"who is|who was|who are|why do|why does|"
    r"why is|why are|why did|when did|when was|where is|where was|tell me about|difference|"
    r"differences|compare|comparison|versus|vs\.?|pros and cons|advantages|disadvantages|"
    r"summari[sz]e|summary|opinion|think about|recommend|suggest|advice|advise|tips|ideas|"
    r"brainstorm|classify|categori[sz]e|which of|name some|name a|list some|give me a list|"
    r"is it|should i|can you tell|meaning of|history of|overview"
)
EXPLAIN_PT = (
    r"explique|explica|explicar|descreva|descrever|o que e|o que sao|o que faz|como funciona|"
    r"quem e|quem foi|"
    r"por que|porque|quando|onde|diferenca|diferencas|compare|comparar|comparacao|vantagens|"
    r"desvantagens|resuma|resumo|resumir|opiniao|recomende|sugira|sugestoes|dicas|ideias|"
    r"conselho|classifique|qual a|quais|me fale sobre|fale sobre|significado|historia"
)
PLAN_WORDS = (
    r"plan|plans|planning|roadmap|strategy|strategies|strategic|architecture|architect|"
    r"step-by-step plan|break (it|this) down|milestones|trade-?offs|"
    r"planeje|planejar|planeja|planejamento|plano|estrategia|estrategica|arquitetura|"
    r"etapas|cronograma|prioridades"
)
ANALYSIS_WORDS = (
    r"analy[sz]e|analysis|evaluate|assess|outline|prioriti[sz]e|reflect|critique|"
    r"analise|analisar|avalie|avaliar|reflita|critique"
)
EXECUTE_WORDS = (
    r"execute|execution|run it|run the|then implement|and implement|implement it|"
    r"write the code|code it|build it|execute o|executar|execute a|rode|rodar|implemente"
)
CREATIVE = (
    r"poem|story|essay|email|e-mail|letter|song|lyrics|haiku|tweet|blog post|post|speech|"
    r"paragraph|article|review|joke|limerick|slogan|toast|"
    r"poema|historia|redacao|carta|cancao|musica|texto|artigo|discurso|piada"
)
# Things that live on a computer; asking to count, find or change them is work done by
# running commands. Strong ones rarely mean anything else; weak ones often do.
SYSTEM_OBJECTS = (
    r"files?|director(y|ies)|folders?|subdirector(y|ies)|paths?|executables?|processe?s|"
    r"process|threads|cpus?|disk|partitions?|packages?|installed|"
    r"environment variables?|permissions?|symlinks?|operating system|linux|ubuntu|debian|"
    r"kernel|terminal|shell|bash|command line|cron|daemon|filesystem|file system|inodes?|"
    r"arquivos?|diretorios?|processos?|pacotes?|instalado"
)
WEAK_SYSTEM_OBJECTS = (
    r"users?|groups?|logs?|services?|memory|variables?|owner|ports?|usuarios?|pastas?"
)
# Command-line tools whose names are not also everyday English words.
SYSTEM_TOOLS = (
    r"sudo|apt|apt-get|npm|pip|pip3|docker|ssh|systemctl|chmod|chown|grep|awk|curl|wget|"
    r"crontab|\$path|gcc|vim|nano|ls|mkdir|rm -rf|ifconfig|netstat|journalctl|useradd"
)
PROBE = (
    r"how many|how much|count|number of|find|find out|determine|calculate|tell me|check|"
    r"test if|list|get|show|print|return|output|what('s| is) the|what will be|quantos|"
    r"quantas|conte|encontre|descubra|verifique|liste|mostre"
)
ON_THIS_MACHINE = (
    r"(on|in|of) (this|my|the|your) (computer|machine|system|server|host|os|pc|laptop)|"
    r"in (this|the) (directory|folder)|current directory|working directory|operating system|"
    r"nesta maquina|neste computador|no sistema|neste diretorio"
)
RUN_WORDS = (
    r"run (this|it|the code|the script|my)|execute (this|it|the code|the script)|"
    r"rode (isso|este|o codigo|o script)|execute (isso|este|o codigo|o script)"
)
SYSTEM_ACTIONS = (
    r"add|move|copy|delete|remove|rename|create|change|set|install|uninstall|mount|"
    r"kill|stop|start|restart|enable|disable|configure|compress|extract|backup|"
    r"mova|copie|apague|remova|renomeie|crie|instale|configure"
)
FIX_WORDS = r"fix|repair|troubleshoot|corrija|conserte"
# Verbs that name code work whatever follows them ("implement binary search in Rust").
CODE_ONLY_VERBS = (
    r"implement|refactor|debug|compile|unit-test|implemente|implementar|refatore|refatorar|"
    r"depure|depurar|debugue|programe|codifique|compile"
)
CONVERSATION = (
    r"hi|hello|hey|thanks|thank you|good morning|good evening|how are you|who are you|"
    r"ola|oi|obrigado|obrigada|bom dia|boa tarde|boa noite|tudo bem|quem e voce"
)
DEBUG_WORDS = (
    r"why does (this|it|my)|why is (this|it|my)|what'?s wrong|doesn'?t work|does not work|"
    r"not working|fails?|failing|crash(es|ing)?|bug|error|exception|broken|"
    r"por que (isso|este|esse|meu)|nao funciona|erro|falha|quebrado"
)


# Whole-text shapes.
CODE_FENCE = re.compile(r"```|~~~")
# Each shape of stack trace or compiler error, with a substring that must be present
# before the (slower) pattern is tried.
TRACEBACKS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("traceback (most recent", re.compile(r"traceback \(most recent call last\)")),
    ('file "', re.compile(r"^[ \t]*file \"[^\"\n]+\", line \d+", re.MULTILINE)),
    ("error: ", re.compile(r"[a-z]error: ")),
    ("exception: ", re.compile(r"[a-z]exception: ")),
    ("at ", re.compile(r"^[ \t]+at [\w.$<>]+\([\w.]+:\d+\)", re.MULTILINE)),
    ("segmentation fault", re.compile(r"segmentation fault")),
    ("panicked at", re.compile(r"panicked at")),
    ("undefined reference", re.compile(r"undefined reference")),
    ("uncaught", re.compile(r"uncaught \w*error")),
    ("npm err!", re.compile(r"npm err!")),
)
CODE_LINE = re.compile(
    r"^\s*(def \w+\(|class \w+[(:]|import \w+|from [\w.]+ import|#include|public (static )?"
    r"\w+|function \w*\(|const \w+ =|let \w+ =|var \w+ =|fn \w+\(|for \(|if \(|while \(|"
    r"return\b|print\(|console\.log|select .+ from |[\w.]+\s*=\s*[\w\[({'\"]|>>> |\$ \w+|"
    r"[\w.]+\([^()\n]*\)\s*(==|!=|->|$)|\"\"\"|'\'\'|[}\]);]+\s*$)",
    re.MULTILINE,
)


def looks_like_traceback(text: str) -> bool:
    """Whether `text` holds a stack trace or compiler error (cheap substring check first)."""
    return any(hint in text and pattern.search(text) for hint, pattern in TRACEBACKS)


HEADING = re.compile(r"^\s{0,3}#{1,4} \S", re.MULTILINE)
REQUIREMENT_WORDS = re.compile(
    r"\b(requirements?|features?|goals?|objectives?|user stories|introduction|scope|"
    r"functional|non-functional|deliverables|overview|background|requisitos|funcionalidades|"
    r"objetivos?|introducao|escopo)\b"
)
# A computation to carry out: a how-many question told to compute it ("How many seconds
# are there in a leap year? Calculate it."), "compute"/"calcule" and a number of two
# digits or more (in either order), or an arithmetic
# expression asked about ("quanto e 2**64", "what is 37 * 91"; "12-3-30" may be a date).
# Running code gets these
# right where a model's mental arithmetic does not.
COMPUTATION = re.compile(
    r"\b(how many|how much|quantos|quantas|quanto)\b[^\n]{0,200}\b(compute|calculate|calcule|"
    r"calcula|calcular)\b|"
    r"\b(compute|calculate|calcule|calcula|calcular|calculem)\b(?:[^\d]{0,200})\d\d|"
    r"\d\d(?:[^\d]{0,200})\b(compute|calculate|calcule|calcula|calcular)\b|"
    r"\b(quanto e|quanto da|quanto vale|quantos sao|how much is|what is|what's)\s+-?\d[\d.,]*"
    r"(\s*(\*\*|[+*/^x%])\s*| - )-?\d"
)
# An absolute or home-relative path: "/usr/bin", "~/x", "./run.sh" (not "and/or", "km/h").
PATH = re.compile(r"(?<![\w/.~])(/[a-z_][\w.-]*|~/|\./)[\w./-]*")
# "run ./build.sh", "execute ~/test": running something on this machine.
RUN_PATH = re.compile(r"\b(run|execute|executar|rodar|rode) +(~/|\./|/)[\w./-]+")
FILE_EXT = re.compile(r"\.(txt|csv|log|py|sh|json|conf|config|cfg|ini|md|c|js|html|xml)\b")


# ---------------------------------------------------------------------------------------
# The cue table


@dataclass(frozen=True)
class WordCue:
    """Evidence from a vocabulary phrase anywhere in the request."""

    name: str
    vocab: str
    weight: float


@dataclass(frozen=True)
class NearCue:
    """Evidence from a phrase of `first` followed within `gap` words by one of `second`."""

    name: str
    first: str
    second: str
    gap: int
    weight: float


@dataclass(frozen=True)
class ShapeCue:
    """Evidence from a pattern of characters (paths, file names)."""

    name: str
    pattern: re.Pattern[str]
    weight: float


VOCABULARIES: dict[str, str] = {
    "code_verbs": CODE_VERBS_EN + "|" + CODE_VERBS_PT,
    "code_nouns": CODE_NOUNS,
    "languages": LANGUAGES,
    "code_only_verbs": CODE_ONLY_VERBS,
    "probe": PROBE,
    "system_objects": SYSTEM_OBJECTS,
    "weak_system_objects": WEAK_SYSTEM_OBJECTS,
    "system_actions": SYSTEM_ACTIONS,
    "system_tools": SYSTEM_TOOLS,
    "this_machine": ON_THIS_MACHINE,
    "run": RUN_WORDS,
    "fix": FIX_WORDS,
    "explain": EXPLAIN_EN + "|" + EXPLAIN_PT,
    "plan": PLAN_WORDS,
    "analysis": ANALYSIS_WORDS,
    "creative": CREATIVE,
    "conversation": CONVERSATION,
    "execute": EXECUTE_WORDS + "|" + CODE_VERBS_PT + "|implement|code|execute",
    "debug": DEBUG_WORDS,
}
INDEX = PhraseIndex(VOCABULARIES)

CUES: tuple[WordCue | NearCue | ShapeCue, ...] = (
    NearCue("code request", "code_verbs", "code_nouns", 6, 3.0),
    WordCue("programming language", "languages", 0.75),
    WordCue("code verb", "code_only_verbs", 2.0),
    NearCue("system task", "probe", "system_objects", 12, 2.5),
    NearCue("system question", "probe", "weak_system_objects", 3, 1.0),
    NearCue("system change", "system_actions", "system_objects", 4, 2.5),
    WordCue("system tool", "system_tools", 1.5),
    WordCue("this machine", "this_machine", 1.5),
    ShapeCue("computation", COMPUTATION, 2.5),
    ShapeCue("file path", PATH, 1.5),
    ShapeCue("file extension", FILE_EXT, 0.75),
    WordCue("run request", "run", 2.5),
    ShapeCue("run request", RUN_PATH, 2.5),
    WordCue("fix request", "fix", 1.0),
    WordCue("explanation", "explain", -1.75),
    WordCue("planning", "plan", -2.5),
    WordCue("analysis", "analysis", -1.0),
    WordCue("creative writing", "creative", -1.5),
)
# Greetings and thanks count only at the very start of a message.
CONVERSATION_WEIGHT = -2.5
