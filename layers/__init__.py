"""Read path of Crime Gun Atlas: schema, connection and one module per data product.

Nothing here imports Dash: the dashboard asks these modules for plain data.
"""
