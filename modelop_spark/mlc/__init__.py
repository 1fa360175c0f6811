"""Model life cycles: BPMN processes with DMN decisions that test, approve and promote snapshots.

Modules, one concern each: ``engine`` (SpiffWorkflow reading Camunda BPMN and DMN, our external
service task, JSON serialization), ``dmn`` (threshold tables -> a verdict, pure), ``processes``
(the deployed processes and which one handles a snapshot, pure selection), ``schedules``
(cron-style starts, pure due times), ``handlers`` (what each service-task topic does through the
control plane's service layer), ``store`` (instances in the control plane's database, version
guarded), ``lifecycles`` (the runner: start, advance one step at a time, approvals), ``api`` (the
``/api/v1/mlc`` routes), ``server`` (joins a served control plane), ``diagram`` (a process as SVG from its BPMN DI, pure) and ``cli``
(``modelop-spark mlc check|diagram``).
"""
