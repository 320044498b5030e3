"""Restocking: one round per supplier order (a sub-orchestration), continued as new until the target."""
import azure.durable_functions as df

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context")
def restock_cycle(context: df.DurableOrchestrationContext):
    plan = context.get_input()
    child_id = f"{context.instance_id}:round-{plan['round']}"
    item = {"sku": plan["sku"], "qty": plan["batch"]}
    delivered = yield context.call_sub_orchestrator("restock_one", item, child_id)
    total = plan.get("total", 0) + delivered
    if plan["round"] < plan["rounds"]:
        context.continue_as_new({**plan, "round": plan["round"] + 1, "total": total})
        return None
    return {"sku": plan["sku"], "rounds": plan["round"], "total": total}


@bp.orchestration_trigger(context_name="context")
def restock_one(context: df.DurableOrchestrationContext):
    item = context.get_input()
    delivered = yield context.call_activity("order_from_supplier", item)
    context.signal_entity(df.EntityId("inventory", item["sku"]), "add", delivered)
    return delivered


@bp.activity_trigger(input_name="item")
def order_from_supplier(item: dict) -> int:
    return item["qty"]
