"""The GraphQL gateway: the one API front-ends, dashboards and other DAOs see.

`create_app(settings)` in `gateway.app`; `python -m gateway` serves it; `python -m gateway.export_schema`
writes `gateway/schema.graphql`; `python -m gateway.seed --url ...` seeds the demo organisation.
"""
