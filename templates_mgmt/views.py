"""v1/template (tenants) and v2/tempreview (root), seed 001. Each operation's schema (summary,
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
    TEMPLATES_TAG,
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
from templates_mgmt import selectors, services
from templates_mgmt.serializers import (
    TemplateDelete,
    TemplateIdOut,
    TemplateListOut,
    TemplateListQuery,
    TemplateOut,
    TemplateReview,
    TemplateUpdate,
    TemplateWrite,
)

OK = {"message": "ok"}
TAGS = [TEMPLATES_TAG]
RULES = """\
- `type`: 1 验证码 (verify code), 2 通知 (notice), 3 营销 (marketing), as a number or a numeric string
  (`ER:0022` otherwise).
- Placeholders are numbered `{1}`, `{2}` … from 1 with none skipped (one may repeat); any other
  brace, `【` or `】` (the signature is added when sending), an empty text or one over 500 characters
  is `ER:0021`.
- A marketing template (type 3) must carry an opt-out instruction (`回T退订`, `退订回T`, `拒收请回复R`,
  `回TD退订`, or one of `SMS_OPT_OUT_HINTS`): `ER:0021` otherwise.
- `sign_id` is one of your signatures (`ER:0023`)."""
BAD_TEXT = platform_refusal(
    PlatformError.TEMPLATE_PARAMS_FAIL,
    "placeholders must be numbered {1} to {n} with none skipped",
    when="template text that is empty, over 500 characters, holds 【 or 】 or whose placeholders do not "
    "parse; a marketing template without an opt-out instruction",
)
BAD_TYPE = platform_refusal(PlatformError.TEMPLATE_TYPE_FAIL, "type must be 1, 2 or 3")
SIGN_NOT_YOURS = platform_refusal(PlatformError.SIGN_NOT_OF_USER, "sign_id 7")
NOT_OF_SIGN = platform_refusal(PlatformError.TEMP_NOT_OF_SIGN, "temp_id 9 is not of sign_id 1")
BAD_FIELD = tenant_params_fail("name: This field is required.", name="name")
TEMPLATE = {
    "name": "验证码",
    "template": "您的验证码为{1}，{2}分钟内有效。",
    "type": 1,
    "description": "注册验证",
    "sign_id": 1,
}


class TemplateView(PlatformAPIView):
    @extend_schema(
        tags=TAGS,
        summary="查询模版: the tenant's own templates",
        description="""\
The tenant's templates, newest first, with their review state (`pending`, `passed`, or `rejected`
with `reject_reason`). Ids are strings; `created_at`/`updated_at` are `YYYY-MM-DD HH:MM:SS`,
China time. Paged: `page` (from 1) and `page_size` (1-100, default 20).

Added: `sample` is the text a mainland number gets from the template (`【signature】` + the text,
every placeholder filled with `123456`), with the `encoding` it is billed in and its `parts` (70
UCS-2 units in one message, 67 per part); `sample_international` the same for a number outside
the mainland (`signature: ` + the text; GSM-7, 160 then 153 septets, when every character fits
it). Your real values may give other parts: `POST v1/message/estimate` counts them.""",
        parameters=[TemplateListQuery],
        examples=query_example("first page", page=1, page_size=20),
        responses=answers(
            list_answer(
                TemplateListOut,
                {
                    "id": "1",
                    "name": "验证码",
                    "audit_status": "passed",
                    "reject_reason": "",
                    "type": 1,
                    "sign_id": "1",
                    "template": "您的验证码为{1}，{2}分钟内有效。",
                    "description": "注册验证",
                    "created_at": "2026-11-24 19:39:03",
                    "updated_at": "2026-11-24 19:39:03",
                    "sample": {
                        "text": "【去采购】您的验证码为123456，123456分钟内有效。",
                        "encoding": "UCS-2",
                        "parts": 1,
                    },
                    "sample_international": {
                        "text": "去采购: 您的验证码为123456，123456分钟内有效。",
                        "encoding": "UCS-2",
                        "parts": 1,
                    },
                },
            ),
            *TENANT_READ,
            tenant_params_fail("page: A valid integer is required.", name="page"),
        ),
    )
    def get(self, request: Request) -> Response:
        query = parse(TemplateListQuery, request.query_params)
        return Response(
            offset_list(selectors.templates_of(owner=request.user), item=TemplateOut, query=query)
        )

    @extend_schema(
        tags=TAGS,
        summary="创建模版: create a template (waits for root's review)",
        description=f"""\
A new template under one of the tenant's signatures, `pending` until root reviews it
(`v2/tempreview`).

{RULES}""",
        request=TemplateWrite,
        examples=[body_example("a verify code", TEMPLATE)],
        responses=answers(
            ok_answer(TemplateIdOut, {"temp_id": 1}, "created: its id"),
            *TENANT_WRITE,
            BAD_FIELD,
            BAD_TEXT,
            BAD_TYPE,
            SIGN_NOT_YOURS,
        ),
    )
    def post(self, request: Request) -> Response:
        template = services.create_template(owner=request.user, **parse(TemplateWrite, request.data))
        return Response({"temp_id": template.pk})

    @extend_schema(
        tags=TAGS,
        summary="编辑模版: edit a template not yet passed (back to review)",
        description=f"""\
Replaces a pending or rejected template, which goes back to `pending`. A template that passed
review is kept exactly as approved: to change it, create a new one (`ER:0025`). `temp_id` must be a
template of the signature `sign_id` (`ER:0024`).

{RULES}""",
        request=TemplateUpdate,
        examples=[body_example("a new text", {**TEMPLATE, "template": "您的验证码为{1}。", "temp_id": 1})],
        responses=answers(
            ok_answer(TemplateIdOut, {"temp_id": 1}, "edited: the temp_id sent"),
            *TENANT_WRITE,
            BAD_FIELD,
            BAD_TEXT,
            BAD_TYPE,
            SIGN_NOT_YOURS,
            NOT_OF_SIGN,
            platform_refusal(
                PlatformError.TEMP_STATUS_FAIL, "a passed template cannot be edited: create a new one"
            ),
        ),
    )
    def put(self, request: Request) -> Response:
        template = services.update_template(owner=request.user, **parse(TemplateUpdate, request.data))
        return Response({"temp_id": template.pk})

    @extend_schema(
        tags=TAGS,
        summary="删除模版: delete a template",
        description="""\
Deletes the template `temp_id` of the signature `sign_id`: the signature must be yours (`ER:0023`)
and the template of it (`ER:0024`).""",
        request=TemplateDelete,
        examples=[body_example("template 1 of sign 1", {"sign_id": 1, "temp_id": 1})],
        responses=answers(
            PLATFORM_OK,
            *TENANT_WRITE,
            tenant_params_fail("temp_id: This field is required.", name="temp_id"),
            SIGN_NOT_YOURS,
            NOT_OF_SIGN,
        ),
    )
    def delete(self, request: Request) -> Response:
        services.delete_template(owner=request.user, **parse(TemplateDelete, request.data))
        return Response(OK)


class TempReviewView(RootAPIView):
    @extend_schema(
        tags=[REVIEW_TAG],
        summary="审核模版: pass or reject a template (root only)",
        description=REVIEW_DESCRIPTION,
        request=TemplateReview,
        examples=[
            body_example("reject", {"temp_id": 1, "audit_status": "rejected", "reject_reason": "营销内容"})
        ],
        responses=answers(
            PLATFORM_OK,
            *ROOT_WRITE,
            tenant_params_fail(
                "temp_id 9 does not exist", when="an unknown id; a missing or ill-typed field"
            ),
            BAD_DECISION,
        ),
    )
    def post(self, request: Request) -> Response:
        services.review_template(**parse(TemplateReview, request.data), actor=Actor.v2_api(request))
        return Response(OK)
