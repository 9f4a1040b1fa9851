"""Rendering DOT to SVG or PNG with Graphviz, for ``graph`` and for reports.

The pictures themselves are built in the pure core (``kgctl_py/mesh/picture.py``);
this is the one place that runs a Graphviz program on them.
"""

from __future__ import annotations

from kgctl_py.errors import CliError, ExitCode
from kgctl_py.mesh import picture as _picture
from kgctl_py.mesh.topology import Topology


def render(dot: str, fmt: str, engine: str) -> bytes:
    """``dot`` laid out by ``engine`` (circo, fdp, ...) as ``fmt`` (svg, png)."""
    import graphviz

    try:
        # quiet: the error is ours to print, once (graphviz would echo its stderr too).
        return graphviz.Source(dot, engine=engine).pipe(format=fmt, quiet=True)
    except graphviz.ExecutableNotFound:
        raise CliError(
            f"cannot render {fmt}: the Graphviz '{engine}' program is not installed; install the 'graphviz' package (e.g. apt-get install graphviz)",
            ExitCode.USAGE,
        ) from None
    except graphviz.CalledProcessError as err:
        detail = (err.stderr or b"").decode(errors="replace").strip().splitlines()
        raise CliError(f"Graphviz failed to render {fmt}: {detail[-1] if detail else err}") from None


def render_picture(t: Topology, fmt: str = "svg", detail: str = "auto", engine: str | None = None) -> bytes:
    """The styled mesh picture; ``engine`` None picks the one that draws it best."""
    engine = engine or _picture.engine_for(t, detail)
    return render(_picture.picture_dot(t, detail, engine), fmt, engine)
