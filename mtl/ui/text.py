"""User strings in Streamlit's markdown (``st.error``, ``st.caption``, ``st.markdown``…).

Every markdown element interprets ``*``, ``[link](…)``, ``![image](…)``, ``:color[…]``,
``$math$`` and HTML-looking text; a run, task, column or file name must show as what it
is. :func:`plain` backslash-escapes every ASCII punctuation character, which CommonMark
turns back into the character itself, so the text renders literally.
"""

from __future__ import annotations

import string

_ESCAPE = {ord(c): f"\\{c}" for c in string.punctuation}


def plain(text: object) -> str:
    """``text`` escaped for markdown: shown exactly as written, never as markup."""
    return " ".join(str(text).split("\n")).translate(_ESCAPE)
