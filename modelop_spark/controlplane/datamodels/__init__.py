"""The HTTP API's request and response bodies, one module per resource (as Airflow's
``api_fastapi/core_api/datamodels``): the routes declare them, so ``/openapi.json`` names a
schema for every body. The services keep returning plain dicts; a route validates what it
returns against its response model, so a drift between the two fails loudly in the tests."""
