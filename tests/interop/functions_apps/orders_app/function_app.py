"""An order app in the v2 programming model: a DFApp with two blueprints."""

import azure.durable_functions as df
import azure.functions as func
import orders
import restock

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(orders.bp)
app.register_functions(restock.bp)
