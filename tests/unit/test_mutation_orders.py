"""The order service over the in-memory Waldurs: behaviours pinned by mutation testing (docs/mutation.md)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from order_world import A_OFFERING, B_CUSTOMER, B_OFFERING, Times, World

from adapters.memory.faults import Faults
from adapters.memory.orders import MemorySource, MemoryTarget
from fedcore.enums import OrderType
from fedcore.errors import PermanentError
from fedcore.ids import Uuid
from fedcore.lifecycle import Fail, Retry, idempotency_key
from fedcore.model import NewOrder, Project, ProjectKey
from fedcore.services.orders import OrderPorts, OrderProcessor

pytestmark = pytest.mark.unit


class ToGpu:
    """A converter to a B component B's offering does not have: B refuses every Create order."""

    def limits_to_target(self, a_limits: Mapping[str, int]) -> dict[str, int]:
        return {"gpu_b": a_limits.get("cpu", 0)}


class RefusingSource(MemorySource):
    """Waldur A refusing (permanently, not as a conflict) the calls named in ``refused``."""

    def __init__(self, refused: set[str]) -> None:
        super().__init__(A_OFFERING, faults=Faults())
        self.refused = refused

    def approve(self, order_uuid: Uuid) -> None:
        if "approve" in self.refused:
            raise PermanentError("forbidden", where="A approve", status=403)
        super().approve(order_uuid)

    def fail(self, order_uuid: Uuid, message: str) -> None:
        if "fail" in self.refused:
            raise PermanentError("forbidden", where="A fail", status=403)
        super().fail(order_uuid, message)


class RefusingTarget(MemoryTarget):
    """Waldur B refusing to look up projects (a token without the permission)."""

    def find_project(self, key: ProjectKey) -> Project | None:
        raise PermanentError("forbidden", where="B find_project", status=403)


def test_a_create_pass_reports_its_order_and_every_step_applied() -> None:
    world = World()
    order = world.a.order_create(world.project, {"cpu": 1})
    [outcome] = world.run().outcomes
    assert (outcome.order_uuid, outcome.order_type) == (order.uuid, "Create")
    assert outcome.steps == ("Approve", "CreateProject", "SubmitCreate", "LinkResource", "LinkOrder")
    [project] = world.b.projects.values()
    assert project.description == f"Federated from project {world.project.uuid} on Waldur A"


def test_a_project_creation_that_failed_after_acting_is_looked_up_again_not_duplicated() -> None:
    world = World()
    first, second = (world.a.order_create(world.project, {"cpu": n}) for n in (1, 2))
    world.faults.apply_then_fail("create_project")  # B created the project, the answer was lost
    report = world.run()
    assert [o.status for o in report.outcomes] == ["retrying", "waiting"]
    assert len(world.b.projects) == 1
    assert world.b.orders_with_key(f"fedcore-order:{second.uuid}") != []
    assert world.b.orders_with_key(f"fedcore-order:{first.uuid}") == []


def test_creating_a_b_project_means_no_idempotency_listing_for_it_in_that_pass() -> None:
    world = World()
    world.a.order_create(world.project, {"cpu": 1})
    second = world.a.order_create(world.project, {"cpu": 2})
    world.a.approve(second.uuid)  # approved in an earlier pass that ended before anything reached B
    report = world.run()
    assert [o.steps[-1] for o in report.outcomes] == ["LinkOrder", "LinkOrder"]
    # None before submitting (the project is new); one after both submissions (another replica's order?).
    assert world.faults.calls["B.find_orders"] == 1


def test_a_failed_submission_on_an_unlisted_project_retries_saying_why() -> None:
    world = World()
    world.create_done()  # the B project exists now
    world.a.order_create(world.project, {"cpu": 1})
    world.faults.fail_next("create_order")
    [outcome] = world.run().outcomes
    assert outcome.steps == ("Approve",)
    assert outcome.end == Retry("transient: B.create_order: injected fault")


def test_a_failed_submission_makes_the_next_order_list_the_projects_keys_again() -> None:
    world = World()
    world.create_done()
    first, second = (world.a.order_create(world.project, {"cpu": n}) for n in (1, 2))
    for order in (first, second):
        world.a.approve(order.uuid)
    world.faults.reset_counts()
    world.faults.fail_next("create_order")
    report = world.run()
    assert [o.status for o in report.outcomes] == ["retrying", "waiting"]
    # The first order's listing, the second's (the failed submission dropped the first), its check afterwards.
    assert world.faults.calls["B.find_orders"] == 3


def test_a_failed_resource_link_makes_the_next_order_list_the_projects_resources_again() -> None:
    world = World()
    one, two = world.create_done(name="one"), world.create_done(name="two")
    world.a.order_change(one, OrderType.UPDATE, {"cpu": 3})
    created = world.a.order_create(world.project, {"cpu": 1})
    world.a.approve(created.uuid)  # submitted on B by an agent that stopped before linking it on A
    [b_project] = world.b.projects.values()
    world.b.create_order(NewOrder(b_project.uuid, idempotency_key(created.uuid), {"cpu_b": 2}))
    world.a.order_change(two, OrderType.UPDATE, {"cpu": 4})
    world.faults.reset_counts()
    world.faults.fail_next("set_resource_backend_id")
    report = world.run()
    assert [o.status for o in report.outcomes] == ["waiting", "retrying", "waiting"]
    assert world.faults.calls["A.list_project_resources"] == 2


def test_a_failed_change_makes_the_next_order_on_that_resource_read_it_again() -> None:
    world = World()
    resource = world.create_done()
    world.a.order_change(resource, OrderType.TERMINATE, shadow=True)  # resolves to the same B resource
    world.a.order_change(resource, OrderType.UPDATE, {"cpu": 3})
    world.faults.reset_counts()
    world.faults.fail_next("request_termination")
    report = world.run()
    assert [o.status for o in report.outcomes] == ["retrying", "waiting"]
    assert world.faults.calls["B.get_resource"] == 2


def world_with(source: MemorySource, target: MemoryTarget, converter: object = None) -> tuple[OrderProcessor, Uuid]:
    project = source.add_project("physics")
    order = source.order_create(project, {"cpu": 1})
    ports = OrderPorts(source, source, target, target, target)
    return OrderProcessor(ports, converter or Times()), order.uuid  # type: ignore[arg-type]


def test_a_refused_read_retries_the_order_saying_so() -> None:
    target = RefusingTarget(B_OFFERING, B_CUSTOMER, components={"cpu_b"})
    processor, order_uuid = world_with(MemorySource(A_OFFERING), target)
    [outcome] = processor.run_pass().outcomes
    assert (outcome.order_uuid, outcome.steps) == (order_uuid, ("Approve",))
    assert outcome.end == Retry("read refused: B find_project: forbidden")
    assert outcome.fault


def test_a_refused_approval_is_retried_and_the_order_is_not_failed() -> None:
    source = RefusingSource({"approve"})
    processor, order_uuid = world_with(source, MemoryTarget(B_OFFERING, B_CUSTOMER))
    [outcome] = processor.run_pass().outcomes
    assert outcome.steps == ()
    assert outcome.end == Retry("Waldur A refused to approve the order: forbidden")
    assert outcome.fault
    assert source.orders[order_uuid].state == "pending-provider"


def b_refuses(refused: set[str], faults: Faults | None = None) -> tuple[MemorySource, OrderProcessor]:
    source = RefusingSource(refused)
    if faults is not None:
        source.faults = faults
    target = MemoryTarget(B_OFFERING, B_CUSTOMER, components={"cpu_b"})
    processor, _ = world_with(source, target, ToGpu())
    return source, processor


def test_an_order_b_refuses_is_failed_on_a_with_bs_detail() -> None:
    source, processor = b_refuses(set())
    [outcome] = processor.run_pass().outcomes
    assert outcome.steps == ("Approve", "CreateProject", "Fail")
    assert isinstance(outcome.end, Fail)
    assert outcome.end.message.startswith("Waldur B refused to create the order in B project ")
    assert "Unknown components: gpu_b" in outcome.end.message
    assert not outcome.fault  # the order ended: nothing to back off from
    [order] = source.orders.values()
    assert order.state == "erred"


def test_failing_an_order_b_refused_is_retried_when_a_cannot_take_it_now() -> None:
    faults = Faults()
    _, processor = b_refuses(set(), faults)
    faults.fail_next("fail")
    [outcome] = processor.run_pass().outcomes
    assert outcome.steps == ("Approve", "CreateProject")
    assert outcome.end == Retry("transient while failing the order: A.fail: injected fault")
    assert outcome.fault


def test_failing_an_order_b_refused_is_retried_when_a_refuses_it() -> None:
    _, processor = b_refuses({"fail"})
    [outcome] = processor.run_pass().outcomes
    assert outcome.steps == ("Approve", "CreateProject")
    assert outcome.end == Retry("Waldur A refused to mark the order erred: A fail: forbidden")
    assert outcome.fault


def linked_executing_order(world: World, project: Project) -> None:
    """An order of ``project`` that is executing and linked to its B order (its first pass is done)."""
    order = world.a.order_create(project, {"cpu": 1})
    world.run()
    assert world.a.orders[order.uuid].backend_id


def test_open_pass_reads_the_linked_b_orders_up_front_only_for_several_batches() -> None:
    world = World()
    linked_executing_order(world, world.project)
    world.faults.reset_counts()
    world.agent().open_pass()
    assert world.faults.calls["B.get_orders"] == 0  # one batch: read when an order needs it
    world.a.order_create(world.a.add_project("chemistry"), {"cpu": 1})
    world.agent().open_pass()
    assert world.faults.calls["B.get_orders"] == 1  # two batches may run concurrently: read once, first


def test_open_pass_reads_nothing_up_front_without_an_executing_linked_order() -> None:
    world = World()
    pending = world.a.order_create(world.project, {"cpu": 1})
    world.a.set_order_backend_id(pending.uuid, f"{0xBD:032x}")  # linked, but not executing
    world.a.approve(world.a.order_create(world.a.add_project("chemistry"), {"cpu": 1}).uuid)  # executing, unlinked
    world.faults.reset_counts()
    world.agent().open_pass()
    assert world.faults.calls["B.get_orders"] == 0
