"""Prompt templates for the math datasets: zero-shot by default, few-shot on request.

Every template asks for the final answer in ``\\boxed{}``, the format the math-answer verifier
reads first. Few-shot exemplars are the published ones: GSM8K's from the chain-of-thought paper
(Wei et al. 2022, "Chain-of-Thought Prompting Elicits Reasoning in Large Language Models",
Table 20), with the final answer boxed; MATH's from the Minerva paper (Lewkowycz et al. 2022,
"Solving Quantitative Reasoning Problems with Language Models", the 4-shot prompt).
"""

from __future__ import annotations

from typing import Final

import polars as pl

from stages.schemas import PROBLEMS, conform

INSTRUCTION: Final[str] = (
    "Solve the following math problem. Reason step by step, then give the final answer "
    "on its own line as \\boxed{ANSWER}.\n\n"
)
PROBLEM: Final[str] = "Problem: {problem}\n\nSolution:"

GSM8K_EXEMPLARS: Final[tuple[tuple[str, str], ...]] = (
    (
        (
            "There are 15 trees in the grove. Grove workers will plant trees in the grove today. "
            "After they are done, there will be 21 trees. How many trees did the grove workers "
            "plant today?"
        ),
        (
            "There are 15 trees originally. Then there were 21 trees after some more were planted. "
            "So there must have been 21 - 15 = 6. The answer is \\boxed{6}."
        ),
    ),
    (
        (
            "If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in "
            "the parking lot?"
        ),
        "There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5. The answer is \\boxed{5}.",
    ),
    (
        (
            "Leah had 32 chocolates and her sister had 42. If they ate 35, how many pieces do they "
            "have left in total?"
        ),
        (
            "Originally, Leah had 32 chocolates. Her sister had 42. So in total they had "
            "32 + 42 = 74. After eating 35, they had 74 - 35 = 39. The answer is \\boxed{39}."
        ),
    ),
    (
        (
            "Jason had 20 lollipops. He gave Denny some lollipops. Now Jason has 12 lollipops. "
            "How many lollipops did Jason give to Denny?"
        ),
        (
            "Jason started with 20 lollipops. Then he had 12 after giving some to Denny. So he gave "
            "Denny 20 - 12 = 8. The answer is \\boxed{8}."
        ),
    ),
)

MATH_EXEMPLARS: Final[tuple[tuple[str, str], ...]] = (
    (
        "Find the domain of the expression  $\\frac{\\sqrt{x-2}}{\\sqrt{5-x}}$.",
        (
            "The expressions inside each square root must be non-negative. Therefore, $x-2 \\ge 0$, "
            "so $x\\ge2$, and $5 - x \\ge 0$, so $x \\le 5$. Also, the denominator cannot be equal "
            "to zero, so $5-x>0$, which gives $x<5$. Therefore, the domain of the expression is "
            "$\\boxed{[2,5)}$."
        ),
    ),
    (
        (
            "If $\\det \\mathbf{A} = 2$ and $\\det \\mathbf{B} = 12,$ then find "
            "$\\det (\\mathbf{A} \\mathbf{B}).$"
        ),
        (
            "We have that $\\det (\\mathbf{A} \\mathbf{B}) = (\\det \\mathbf{A})(\\det \\mathbf{B}) "
            "= (2)(12) = \\boxed{24}.$"
        ),
    ),
    (
        (
            "Terrell usually lifts two 20-pound weights 12 times. If he uses two 15-pound weights "
            "instead, how many times must Terrell lift them in order to lift the same total weight?"
        ),
        (
            "If Terrell lifts two 20-pound weights 12 times, he lifts a total of "
            "$2\\cdot 12\\cdot20=480$ pounds of weight. If he lifts two 15-pound weights instead for "
            "$n$ times, he will lift a total of $2\\cdot15\\cdot n=30n$ pounds of weight. Equating "
            "this to 480 pounds, we can solve for $n$: \\begin{align*} 30n&=480\\\\ \\Rightarrow\\qquad "
            "n&=480/30=\\boxed{16} \\end{align*}"
        ),
    ),
    (
        (
            "If the system of equations \\begin{align*} 6x-4y&=a,\\\\ 6y-9x &=b. \\end{align*} has a "
            "solution $(x, y)$ where $x$ and $y$ are both nonzero, find $\\frac{a}{b},$ assuming $b$ "
            "is nonzero."
        ),
        (
            "If we multiply the first equation by $-\\frac{3}{2}$, we obtain $$6y-9x=-\\frac{3}{2}a.$$ "
            "Since we also know that $6y-9x=b$, we have $$-\\frac{3}{2}a=b\\Rightarrow"
            "\\frac{a}{b}=\\boxed{-\\frac{2}{3}}.$$"
        ),
    ),
)

EXEMPLARS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "gsm8k": GSM8K_EXEMPLARS,
    "math500": MATH_EXEMPLARS,
}


def render_prompt(dataset: str, problem: str, shots: int = 0) -> str:
    """The generator's prompt for one problem, with the first ``shots`` published exemplars."""
    exemplars = EXEMPLARS[dataset]
    if not 0 <= shots <= len(exemplars):
        raise ValueError(f"{dataset}: shots must be in 0..{len(exemplars)}, got {shots}")
    demo = "".join(PROBLEM.format(problem=q) + " " + a + "\n\n" for q, a in exemplars[:shots])
    return INSTRUCTION + demo + PROBLEM.format(problem=problem)


def math_problems_frame(rows: list[dict]) -> pl.DataFrame:
    """PROBLEMS rows for math datasets: every code-only column empty, whatever the schema adds.

    Filling from the declared schema (not a hand-written list) keeps the math loaders valid
    when code verifiers add columns (``outputs_weak`` ...) that math problems do not use.
    """
    filled = [
        {c: r.get(c, 0.0 if t == pl.Float64() else "") for c, t in PROBLEMS.items()} for r in rows
    ]
    return conform(pl.DataFrame(filled, schema=PROBLEMS), PROBLEMS, "problems")
