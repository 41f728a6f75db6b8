"""One exception type for every mistake a user can make.

The CLI turns a ``UserError`` into a single line on stderr and exit code 2, never a traceback: users fix
recipes, annotation files and arguments, and a stack trace only hides which one.
"""


class UserError(Exception):
    """Bad input from the user: a recipe, an annotation file, a CLI argument, a corrupt shard."""

    exit_code = 2


class RecipeError(UserError):
    """A recipe that does not load; ``problems`` holds every ``file: field: what`` line, not only the first."""

    def __init__(self, path: str, problems: list[tuple[str, str]]):
        self.path = path
        self.problems = problems
        lines = [f"{path}: {loc}: {msg}" if loc else f"{path}: {msg}" for loc, msg in problems]
        super().__init__("\n".join(lines))
