"""v1/signature (tenants) and v2/signreview (root), seed 001. Each operation's schema (summary,
description, examples, every answer) is written for the API's users, from docs/api-platform.md."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from audit.services import Actor
from gm_server_notify.api.errors import PlatformError
from gm_server_notify.api.paging import offset_list
from gm_server_notify.api.schema import (
    BAD_DECISION,
    PLATFORM_OK,
    REVIEW_DESCRIPTION,
    REVIEW_TAG,
    ROOT_WRITE,
    SIGNATURES_TAG,
    TENANT_READ,
    TENANT_WRITE,
    answers,
    body_example,
    list_answer,
    ok_answer,
    platform_refusal,
    query_example,
    tenant_params_fail,
)
from gm_server_notify.api.views import PlatformAPIView, RootAPIView, parse
from signatures import selectors, services
from signatures.serializers import (
    SignatureDelete,
    SignatureIdOut,
    SignatureListOut,
    SignatureListQuery,
    SignatureOut,
    SignatureReview,
    SignatureUpdate,
    SignatureWrite,
)

OK = {"message": "ok"}
TAGS = [SIGNATURES_TAG]
NAME = (
    "`signature` is at most 32 characters and `source` 128; `pics` (optional) is a list of at most 20 "
    "strings. A signature is stored without brackets: `【去采购】` or `[去采购]` is stored (and listed) "
    "as `去采购`; one that still holds `【`, `】`, `[` or `]` once its enclosing pair is stripped is "
    "`ER:0004`. The brackets are added when sending."
)
BAD_NAME = tenant_params_fail(
    "signature '【【去采购】】' may not hold 【, 】, [ or ] inside its name",
    when="a missing or ill-typed field; a signature with a bracket left inside its name",
    name="signature",
)
SIGNATURE = {"signature": "去采购", "source": "营业执照", "pics": []}


class SignatureView(PlatformAPIView):
    @extend_schema(
        tags=TAGS,
        summary="查询签名: the tenant's own signatures",
        description="""\
The tenant's signatures, newest first, with their review state (`pending`, `passed`, or `rejected`
with `reject_reason`). Ids are strings; `created_at`/`updated_at` are Unix seconds. Paged: `page`
(from 1) and `page_size` (1-100, default 20).""",
        parameters=[SignatureListQuery],
        examples=query_example("first page", page=1, page_size=20),
        responses=answers(
            list_answer(
                SignatureListOut,
                {
                    "id": "1",
                    "signature": "去采购",
                    "source": "营业执照",
                    "pics": [],
                    "audit_status": "pending",
                    "reject_reason": "",
                    "created_at": 1795441142,
                    "updated_at": 1795441142,
                },
            ),
            *TENANT_READ,
            tenant_params_fail(
                "page_size: Ensure this value is less than or equal to 100.", name="page_size"
            ),
        ),
    )
    def get(self, request: Request) -> Response:
        query = parse(SignatureListQuery, request.query_params)
        return Response(
            offset_list(selectors.signatures_of(owner=request.user), item=SignatureOut, query=query)
        )

    @extend_schema(
        tags=TAGS,
        summary="创建签名: register a signature (waits for root's review)",
        description=f"A new signature, `pending` until root reviews it (`v2/signreview`). {NAME}",
        request=SignatureWrite,
        examples=[body_example("a business licence", SIGNATURE)],
        responses=answers(
            ok_answer(SignatureIdOut, {"sign_id": 1}, "created: its id"),
            *TENANT_WRITE,
            BAD_NAME,
        ),
    )
    def post(self, request: Request) -> Response:
        sign = services.create_signature(owner=request.user, **parse(SignatureWrite, request.data))
        return Response({"sign_id": sign.pk})

    @extend_schema(
        tags=TAGS,
        summary="编辑签名: edit a signature (back to review)",
        description=f"""\
Replaces the signature's name, source and proofs; the edit sends it back to `pending`. A `sign_id`
that is not yours is `ER:0011`. {NAME}""",
        request=SignatureUpdate,
        examples=[body_example("a trademark", {"sign_id": 1, "signature": "去采购", "source": "商标证"})],
        responses=answers(
            ok_answer(SignatureIdOut, {"sign_id": 1}, "edited: the sign_id sent"),
            *TENANT_WRITE,
            BAD_NAME,
            platform_refusal(PlatformError.EDIT_SIGN_FAIL, "sign_id 7 is not yours"),
        ),
    )
    def put(self, request: Request) -> Response:
        sign = services.update_signature(owner=request.user, **parse(SignatureUpdate, request.data))
        return Response({"sign_id": sign.pk})

    @extend_schema(
        tags=TAGS,
        summary="删除签名: delete a signature",
        description="""\
Deletes one of the tenant's signatures. One that is not yours, or that templates still use, is
`ER:0012` (delete its templates first).""",
        request=SignatureDelete,
        examples=[body_example("sign 1", {"sign_id": 1})],
        responses=answers(
            PLATFORM_OK,
            *TENANT_WRITE,
            tenant_params_fail("sign_id: This field is required.", name="sign_id"),
            platform_refusal(PlatformError.DELETE_SIGN_FAIL, "delete its templates first", name="in use"),
            platform_refusal(PlatformError.DELETE_SIGN_FAIL, "sign_id 7 is not yours", name="not yours"),
        ),
    )
    def delete(self, request: Request) -> Response:
        services.delete_signature(owner=request.user, **parse(SignatureDelete, request.data))
        return Response(OK)


class SignReviewView(RootAPIView):
    @extend_schema(
        tags=[REVIEW_TAG],
        summary="签名审核: pass or reject a signature (root only)",
        description=REVIEW_DESCRIPTION,
        request=SignatureReview,
        examples=[body_example("pass", {"sign_id": 1, "audit_status": "passed"})],
        responses=answers(
            PLATFORM_OK,
            *ROOT_WRITE,
            tenant_params_fail(
                "sign_id 9 does not exist", when="an unknown id; a missing or ill-typed field"
            ),
            BAD_DECISION,
        ),
    )
    def post(self, request: Request) -> Response:
        services.review_signature(**parse(SignatureReview, request.data), actor=Actor.v2_api(request))
        return Response(OK)
