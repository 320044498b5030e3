"""Durable entities: bank accounts as entities, and a transfer orchestration that locks both accounts.

Each account is an entity (``@account@<owner>``) whose state is its balance. Deposits arrive as signals
from the client; a transfer is an orchestration that takes the locks of both accounts (a critical section),
checks the balance, withdraws and deposits, and releases the locks, so no other transfer can interleave.

Run it:  python examples/bank_account_entities.py            (embedded fake sidecar)
         python examples/bank_account_entities.py --host localhost:4001   (a real sidecar)
"""

from __future__ import annotations

from dataclasses import dataclass

from _runner import ExampleRun, run_example

from durabletask import task, worker
from durabletask.entities import DurableEntity, EntityInstanceId


class InsufficientFunds(Exception):
    """A withdrawal larger than the balance."""


class Account(DurableEntity):
    """Entity: one bank account; its state is the balance (0 when the account has no state yet)."""

    def deposit(self, amount: int) -> int:
        """Add ``amount``; returns the new balance."""
        if amount <= 0:
            raise ValueError("a deposit must be positive")
        balance = self.get_state(int, 0) + amount
        self.set_state(balance)
        return balance

    def withdraw(self, amount: int) -> int:
        """Take ``amount`` out; returns the new balance. Fails (changing nothing) when the balance is too low."""
        balance = self.get_state(int, 0)
        if amount > balance:
            raise InsufficientFunds(f"cannot withdraw {amount} from a balance of {balance}")
        self.set_state(balance - amount)
        return balance - amount

    def balance(self) -> int:
        """The current balance."""
        return self.get_state(int, 0)


def account(owner: str) -> EntityInstanceId:
    """The entity id of ``owner``'s account."""
    return EntityInstanceId("Account", owner)


@dataclass
class Transfer:
    """What to move, from whom, to whom."""

    source: str
    target: str
    amount: int


def transfer(ctx: task.OrchestrationContext, order: Transfer):
    """Orchestrator: move money between two accounts inside a critical section holding both locks."""
    source, target = account(order.source), account(order.target)
    with (yield ctx.lock_entities([source, target])):
        available = yield ctx.call_entity(source, "balance")
        if available < order.amount:
            return {"transferred": False, "reason": f"{order.source} has only {available}"}
        yield ctx.call_entity(source, "withdraw", order.amount)
        yield ctx.call_entity(target, "deposit", order.amount)
    return {"transferred": True, "reason": None}


def register(w: worker.TaskHubGrpcWorker) -> None:
    """Add this example's entity and orchestrator to a worker."""
    w.add_entity(Account)
    w.add_orchestrator(transfer)


def balances(run: ExampleRun, *owners: str) -> dict[str, int]:
    """Each owner's balance as the sidecar stores it (0 for an account without state)."""
    found = {}
    for owner in owners:
        metadata = run.client.get_entity(account(owner))
        found[owner] = (metadata.get_typed_state(int) if metadata is not None else None) or 0
    return found


def run_transfer(run: ExampleRun, order: Transfer) -> dict[str, object]:
    """Start a transfer, wait for it and return its outcome."""
    instance_id = run.client.schedule_new_orchestration(transfer, input=order)
    state = run.client.wait_for_orchestration_completion(instance_id, timeout=30)
    assert state is not None
    state.raise_if_failed()
    outcome: dict[str, object] = state.get_output()
    return outcome


def scenario(run: ExampleRun) -> None:
    """Open two accounts with deposits, transfer twice (once too much) and print the balances."""
    run.client.signal_entity(account("alice"), "deposit", 100)
    run.client.signal_entity(account("bob"), "deposit", 20)
    print("Deposited 100 for alice and 20 for bob (signals).")

    first = run_transfer(run, Transfer("alice", "bob", 70))
    print(f"Transfer of 70 from alice to bob: {first}")
    second = run_transfer(run, Transfer("alice", "bob", 70))
    print(f"Transfer of 70 more from alice to bob: {second}")
    print(f"Balances: {balances(run, 'alice', 'bob')}")


def main(argv: list[str] | None = None) -> int:
    return run_example("Durable entities: bank accounts and a locked transfer.", register, scenario, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
