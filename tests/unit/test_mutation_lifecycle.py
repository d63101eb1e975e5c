"""The order lifecycle's decisions and folds: behaviours pinned by mutation testing (docs/mutation.md).

The messages are behaviour too: they become the A order's error message or the pass report's reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import pytest
from attrs import evolve

from fedcore.enums import OrderState, OrderType, ResourceState
from fedcore.ids import Uuid
from fedcore.lifecycle import (
    UNKNOWN,
    Approve,
    Complete,
    CreateProject,
    Fail,
    LinkOrder,
    LinkResource,
    NeedBResource,
    NeedKeyedOrder,
    NeedProjectResources,
    OrderView,
    Reject,
    Retry,
    SubmitCreate,
    SubmitTerminate,
    SubmitUpdate,
    Wait,
    after_write,
    decide,
    describe,
    idempotency_key,
    on_refusal,
    resolve_federated_resource,
    with_fact,
)
from fedcore.model import NewOrder, Order, Project, ProjectKey, Resource

pytestmark = pytest.mark.unit


def u(prefix: str, n: int = 1) -> Uuid:
    return Uuid(f"{prefix}{n:0{32 - len(prefix)}x}")


OFFERING, PROJECT, CUSTOMER = u("0f"), u("0a"), u("0c")
A_RES, B_RES, B_PROJECT = u("aa"), u("bb"), u("bc")


class Times2:
    """cpu -> cpu_b x2; any other component is unknown."""

    def limits_to_target(self, a_limits: Mapping[str, int]) -> dict[str, int]:
        unknown = sorted(set(a_limits) - {"cpu"})
        if unknown:
            raise ValueError(f"component {unknown[0]!r} is not configured")
        return {"cpu_b": a_limits["cpu"] * 2} if "cpu" in a_limits else {}


CONVERT = Times2()


def order(type_: OrderType = OrderType.CREATE, state: OrderState = OrderState.EXECUTING, **kw: object) -> Order:
    fields: dict[str, object] = {"resource_uuid": A_RES, "limits": {"cpu": 1}} | kw
    return Order(u("ad"), type_, state, OFFERING, PROJECT, CUSTOMER, **fields)  # type: ignore[arg-type]


def b_order(state: OrderState, **kw: object) -> Order:
    fields: dict[str, object] = {"resource_uuid": B_RES, "key": idempotency_key(u("ad"))} | kw
    return Order(u("bd"), OrderType.CREATE, state, OFFERING, B_PROJECT, CUSTOMER, **fields)  # type: ignore[arg-type]


def a_resource(n: int, state: ResourceState = ResourceState.OK, *, name: str = "", backend_id: str = "") -> Resource:
    return Resource(u("aa", n), state, OFFERING, PROJECT, name=name, backend_id=backend_id)


def b_resource(state: ResourceState) -> Resource:
    return Resource(B_RES, state, OFFERING, B_PROJECT, name="res")


B_PROJ = Project(B_PROJECT, "physics", CUSTOMER)


# --- decide -----------------------------------------------------------------------------------------------------


def test_an_order_in_another_state_waits_saying_why() -> None:
    step = decide(OrderView(order(state=OrderState.DONE)), CONVERT)
    assert step == Wait("A order is done; fedcore acts on pending-provider and executing orders")


def test_an_executing_order_of_an_unsupported_type_fails_with_the_reason() -> None:
    step = decide(OrderView(order(OrderType.RESTORE)), CONVERT)
    assert step == Fail("Restore orders are not supported by the federation (only Create, Update and Terminate)")


def test_an_executing_update_that_b_cannot_express_fails_before_any_write() -> None:
    view = OrderView(
        order(OrderType.UPDATE, limits={"gpu": 1}),
        project_resources=(a_resource(1, backend_id=B_RES),),
        b_resource=b_resource(ResourceState.OK),
        keyed_order=None,
    )
    step = decide(view, CONVERT)
    assert step == Fail("cannot convert the order's limits to B's components: component 'gpu' is not configured")


def test_a_backend_id_that_is_not_a_uuid_fails_saying_so() -> None:
    step = decide(OrderView(order(backend_id="local-7")), CONVERT)
    assert step == Fail(
        "the A order's backend_id 'local-7' is not a B order UUID, so fedcore cannot tell which B order serves it"
    )


def test_a_failed_b_order_without_a_message_fails_the_a_order_saying_b_gave_none() -> None:
    view = OrderView(order(backend_id=u("bd")), b_order=b_order(OrderState.ERRED), resource_linked=True)
    assert decide(view, CONVERT) == Fail(f"B order {u('bd')} is erred: B gave no reason")


def test_a_b_order_in_progress_waits_naming_its_state() -> None:
    view = OrderView(order(backend_id=u("bd")), b_order=b_order(OrderState.EXECUTING), resource_linked=True)
    assert decide(view, CONVERT) == Wait(f"B order {u('bd')} is executing")


@pytest.mark.parametrize(("a_res", "b_res"), [(None, B_RES), (A_RES, None)])
def test_no_resource_link_is_written_unless_both_resources_are_known(a_res: Uuid | None, b_res: Uuid | None) -> None:
    found = b_order(OrderState.EXECUTING, resource_uuid=b_res)
    view = OrderView(order(resource_uuid=a_res), b_project=B_PROJ, keyed_order=found)
    assert decide(view, CONVERT) == LinkOrder(u("bd"))


def test_a_new_b_project_is_described_after_the_a_project_unless_a_describes_it() -> None:
    key = ProjectKey(CUSTOMER, PROJECT)
    view = OrderView(order(project_name="physics"), b_project=None)
    assert decide(view, CONVERT) == CreateProject(key, "physics", f"Federated from project {PROJECT} on Waldur A")
    described = OrderView(order(project_name="physics", project_description="Lab"), b_project=None)
    assert decide(described, CONVERT) == CreateProject(key, "physics", "Lab")


def test_an_order_approved_in_this_pass_submits_without_looking_up_its_key() -> None:
    view = OrderView(order(), approved_now=True, b_project=B_PROJ)
    step = decide(view, CONVERT)
    assert isinstance(step, SubmitCreate)
    assert decide(evolve(view, approved_now=False), CONVERT) == NeedKeyedOrder(B_PROJECT, idempotency_key(u("ad")))


def test_the_b_order_carries_the_name_and_end_date_attributes() -> None:
    attributes = {"name": "given", "end_date": "2027-01-31", "purpose": "x"}
    view = OrderView(order(attributes=attributes, resource_name="listed"), b_project=B_PROJ, keyed_order=None,
                     project_resources=())
    step = decide(view, CONVERT, passthrough_attributes=("purpose",))
    expected = NewOrder(B_PROJECT, idempotency_key(u("ad")), {"cpu_b": 2}, attributes)
    assert step == SubmitCreate(expected)
    unnamed = OrderView(order(resource_name="listed"), b_project=B_PROJ, keyed_order=None, project_resources=())
    assert decide(unnamed, CONVERT) == SubmitCreate(evolve(expected, attributes={"name": "listed"}))


def change_view(type_: OrderType, b_res: Resource | None) -> OrderView:
    return OrderView(
        order(type_),
        project_resources=(a_resource(1, name="res", backend_id=B_RES),),
        b_resource=b_res,
        keyed_order=None,
    )


def test_a_change_of_a_b_resource_that_is_gone_fails_saying_so() -> None:
    step = decide(change_view(OrderType.TERMINATE, None), CONVERT)
    assert step == Fail(f"B resource {B_RES} does not exist on B (or is not visible to fedcore's B token)")


def test_a_change_waits_or_retries_while_b_is_busy_and_fails_on_a_terminated_resource() -> None:
    assert decide(change_view(OrderType.TERMINATE, b_resource(ResourceState.TERMINATING)), CONVERT) == Wait(
        f"B resource {B_RES} is terminating"
    )
    assert decide(change_view(OrderType.UPDATE, b_resource(ResourceState.UPDATING)), CONVERT) == Retry(
        f"B resource {B_RES} is Updating; Update must wait"
    )
    assert decide(change_view(OrderType.UPDATE, b_resource(ResourceState.TERMINATED)), CONVERT) == Fail(
        f"B resource {B_RES} is terminated; it cannot be updated"
    )


# --- shadow resources -------------------------------------------------------------------------------------------


def change(resource: Uuid, name: str = "") -> Order:
    return order(OrderType.UPDATE, resource_uuid=resource, resource_name=name)


def test_a_shadow_missing_from_the_listing_resolves_to_the_one_federated_resource() -> None:
    real = a_resource(1, name="res", backend_id=B_RES)
    assert resolve_federated_resource(change(u("aa", 9)), [real]) == B_RES


def test_resources_in_states_no_change_can_target_are_no_candidates() -> None:
    shadow, real = a_resource(9), a_resource(1, name="res", backend_id=B_RES)
    gone = a_resource(2, ResourceState.TERMINATED, name="old", backend_id=u("bb", 2))
    assert resolve_federated_resource(change(shadow.uuid), [shadow, real, gone]) == B_RES


def test_a_shadow_that_names_its_resource_resolves_among_resources_of_that_name() -> None:
    shadow = a_resource(9)
    one, other = a_resource(1, name="one", backend_id=B_RES), a_resource(2, name="other", backend_id=u("bb", 2))
    assert resolve_federated_resource(change(shadow.uuid, "one"), [shadow, one, other]) == B_RES


def test_shadow_failures_say_where_and_why() -> None:
    shadow = a_resource(9)
    where = f"A resource {shadow.uuid} (project {PROJECT})"
    assert resolve_federated_resource(change(shadow.uuid), [shadow]) == Fail(
        f"{where} is a shadow with no link to B, and no federated resource in its project to resolve"
    )
    one, two = a_resource(1, name="a", backend_id=B_RES), a_resource(2, name="b", backend_id=u("bb", 2))
    assert resolve_federated_resource(change(shadow.uuid), [shadow, two, one]) == Fail(
        f"{where} is a shadow with no link to B; 2 resources could be meant: {one.uuid}, {two.uuid}"
    )


def test_a_backend_id_that_is_not_a_uuid_is_quoted_in_the_failure() -> None:
    local = a_resource(1, name="res", backend_id="local-7")
    assert resolve_federated_resource(change(local.uuid, "res"), [local]) == Fail(
        f"A resource {local.uuid} has backend_id 'local-7', which is not a B resource UUID"
    )


# --- folds and refusals -----------------------------------------------------------------------------------------


KEY = ProjectKey(CUSTOMER, PROJECT)
NEW = NewOrder(B_PROJECT, "k", {"cpu_b": 2})


@pytest.mark.parametrize(
    ("step", "text"),
    [
        (CreateProject(KEY, "physics", "d"), f"create the project for A project {PROJECT}"),
        (SubmitCreate(NEW), f"create the order in B project {B_PROJECT}"),
        (SubmitUpdate(B_RES, {"cpu_b": 2}), f"update the limits of B resource {B_RES}"),
        (SubmitTerminate(B_RES, "k"), f"terminate B resource {B_RES}"),
        (LinkResource(A_RES, B_RES), f"record B resource {B_RES} on A resource {A_RES}"),
        (LinkOrder(u("bd")), f"record B order {u('bd')} on the A order"),
        (Approve(), "approve the order"),
        (Complete(), "mark the order done"),
        (Fail("x"), "mark the order erred"),
        (Reject("x"), "reject the order"),
    ],
)
def test_every_step_is_described_for_messages(step: object, text: str) -> None:
    assert describe(step) == text  # type: ignore[arg-type]


def test_refusals_are_retried_or_failed_with_what_was_refused() -> None:
    assert on_refusal(Approve(), "409", conflict=True) == Retry(
        "approve the order was refused as in the wrong state: 409"
    )
    assert on_refusal(Complete(), "403", conflict=False) == Retry("Waldur A refused to mark the order done: 403")
    assert on_refusal(SubmitCreate(NEW), "400", conflict=False) == Fail(
        f"Waldur B refused to create the order in B project {B_PROJECT}: 400"
    )


def test_folding_writes_remembers_what_this_pass_did() -> None:
    view = OrderView(order(state=OrderState.PENDING_PROVIDER))
    approved = after_write(view, Approve(), None)
    assert (approved.approved_now, approved.order.state) == (True, OrderState.EXECUTING)
    created = after_write(view, CreateProject(KEY, "physics", "d"), B_PROJ)
    assert (created.project_created_now, created.b_project) == (True, B_PROJ)


def test_a_submitted_change_is_known_as_a_pending_b_order_of_the_same_type_and_key() -> None:
    view = OrderView(order(OrderType.UPDATE))
    folded = after_write(view, SubmitUpdate(B_RES, {"cpu_b": 2}, view.key), u("bd"))
    placeholder = folded.keyed_order
    assert isinstance(placeholder, Order)
    assert (placeholder.uuid, placeholder.type, placeholder.state, placeholder.key) == (
        u("bd"),
        OrderType.UPDATE,
        OrderState.PENDING_PROVIDER,
        view.key,
    )


def test_linking_the_order_keeps_the_b_order_unread_unless_it_was_found_by_key() -> None:
    linked = after_write(OrderView(order(), keyed_order=None), LinkOrder(u("bd")), None)
    assert linked.b_order is UNKNOWN
    assert linked.order.backend_id == u("bd")
    found = b_order(OrderState.EXECUTING)
    assert after_write(OrderView(order(), keyed_order=found), LinkOrder(u("bd")), None).b_order == found


def test_a_b_resource_read_that_found_nothing_is_folded_as_absent() -> None:
    view = with_fact(OrderView(order(OrderType.UPDATE)), NeedBResource(B_RES), None)
    assert view.b_resource is None


def test_an_executing_create_whose_a_resource_links_a_b_resource_adopts_it_instead_of_submitting() -> None:
    a_res, b_res = u("ae"), u("be")
    base = OrderView(order(resource_uuid=a_res), b_project=B_PROJ, keyed_order=None)
    assert decide(base, CONVERT) == NeedProjectResources(PROJECT)
    unlinked = Resource(a_res, ResourceState.CREATING, OFFERING, PROJECT)
    assert isinstance(decide(evolve(base, project_resources=(unlinked,)), CONVERT), SubmitCreate)
    linked = evolve(unlinked, backend_id=str(uuid.UUID(b_res)))  # the existing agent's hyphenated spelling
    view = evolve(base, project_resources=(linked,))
    assert decide(view, CONVERT) == NeedBResource(b_res)
    assert isinstance(decide(evolve(view, b_resource=None), CONVERT), SubmitCreate)  # links nowhere: submit
    b_ok = Resource(b_res, ResourceState.OK, u("bf"), B_PROJECT)
    assert decide(evolve(view, b_resource=b_ok), CONVERT) == Complete()
    creating = decide(evolve(view, b_resource=evolve(b_ok, state=ResourceState.CREATING)), CONVERT)
    assert isinstance(creating, Wait)
    erred = decide(evolve(view, b_resource=evolve(b_ok, state=ResourceState.ERRED)), CONVERT)
    assert isinstance(erred, Fail)
    assert "Erred" in erred.message
    assert isinstance(decide(evolve(view, approved_now=True), CONVERT), SubmitCreate)  # approved now: nothing yet
