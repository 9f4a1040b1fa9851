"""kgctl-py doctor: the runbook's checks of a K3s + Kilo cluster, as data.

Nothing here is imported by ``graph`` or ``showconf``: the CLI loads this
package only when ``doctor`` runs.
"""
