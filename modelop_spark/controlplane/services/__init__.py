"""The control plane's rooms, one per resource, over the one store: each takes plain values and
returns JSON-ready dicts, so the HTTP routes, the Command Center pages and the life cycles call
the same methods. ``controlplane/service.py`` ``ControlPlane`` builds them and wires them together.

    models.py         Models         create, list
    snapshots.py      Snapshots      add (upload or location), a training job's new version, read
    runtimes.py       Runtimes       register, tags, heartbeats (liveness, lease renewal, progress)
    dispatch.py       Dispatch       assign waiting jobs, claims (long poll), results: the job <->
                                     runtime protocol, with its lease rules (leases.py)
    jobs.py           Jobs           create (checked, stored, dispatched), list, cancel, result, logs
    notifications.py  Notifications  list, dismiss
    sweeper.py        Sweeper        DOWN runtimes, expired leases, then dispatch, on a timer
"""
