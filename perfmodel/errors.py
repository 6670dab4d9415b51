"""The one exception type for mistakes the user made (bad flag, bad file, impossible shape).

The CLI prints its message as one line on stderr and exits with code 2; everything else is a bug.
"""


class UserError(ValueError):
    """A problem with the user's input; the message names the input and what was expected."""
