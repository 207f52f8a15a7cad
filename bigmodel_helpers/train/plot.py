"""Loss curves: ``plot_history(history)`` draws one figure; ``LivePlot`` redraws it while training runs.

The live plot only exists inside a notebook kernel: it keeps one display handle and replaces its image at
every update, so an executed notebook (papermill, nbconvert) ends up with a single static plot. In a
plain script it does nothing.
"""

from __future__ import annotations

import io


def plot_history(history: dict, fig=None):
    """Training loss (and validation loss) against step, next to the gradient norm (or the learning rate).
    Returns the matplotlib Figure."""
    if fig is None:
        import matplotlib.pyplot as plt
        fig = plt.figure(figsize=(10, 3.5))
    loss_ax, side_ax = fig.subplots(1, 2)
    loss_ax.plot(history["step"], history["loss"], label="train")
    if history.get("val_loss"):
        loss_ax.plot(history["eval_step"], history["val_loss"], "o-", label="validation")
    loss_ax.set(xlabel="step", ylabel="loss", title="loss")
    loss_ax.legend()
    side = "grad_norm" if any(v is not None for v in history.get("grad_norm", [])) else "lr"
    side_ax.plot(history["step"], history[side])
    side_ax.set(xlabel="step", ylabel=side, title="gradient norm (before clipping)" if side == "grad_norm"
                else "learning rate")
    fig.tight_layout()
    return fig


def in_notebook_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class LivePlot:
    """Redraws ``plot_history`` into one notebook output; a no-op outside a notebook kernel."""

    def __init__(self):
        self.handle, self.shown = None, False
        if in_notebook_kernel():
            from IPython.display import DisplayHandle
            self.handle = DisplayHandle()

    def update(self, history: dict) -> None:
        if self.handle is None or not history["step"]:
            return
        from IPython.display import Image
        from matplotlib.figure import Figure  # not pyplot: no global figure left to show twice
        png = io.BytesIO()
        plot_history(history, Figure(figsize=(10, 3.5))).savefig(png, format="png", dpi=80)
        image = Image(data=png.getvalue())
        if self.shown:
            self.handle.update(image)
        else:
            self.handle.display(image)
            self.shown = True
