"""The Command Center's pages, one module per page group (each an ``APIRouter``):

    common.py     templates, the session, CSRF, the page and the one refusal page
    auth.py       static files, login, logout
    home.py       Home and its notifications
    jobs.py       the job list, a job, its live part, cancel, downloads, the evaluation report
    wizard.py     Create Batch Job: the steps' table (``ui/wizard.py``) driven over HTTP
    models.py     models, a snapshot with its life cycles, approvals
    runtimes.py   runtimes and their tags
"""
