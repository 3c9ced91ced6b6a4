"""v1/template (tenants) and v2/tempreview (root), seed 001."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from gm_server_notify.api.paging import offset_list
from gm_server_notify.api.schema import PLATFORM_ERROR, OkOut
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

ERRORS = {400: PLATFORM_ERROR, 403: PLATFORM_ERROR}
OK = {"message": "ok"}
TAGS = ["v1 templates"]


class TemplateView(PlatformAPIView):
    @extend_schema(
        tags=TAGS,
        summary="查询模版: the tenant's own templates",
        parameters=[TemplateListQuery],
        responses={200: TemplateListOut, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = parse(TemplateListQuery, request.query_params)
        return Response(
            offset_list(selectors.templates_of(owner=request.user), item=TemplateOut, query=query)
        )

    @extend_schema(
        tags=TAGS, summary="创建模版", request=TemplateWrite, responses={200: TemplateIdOut, **ERRORS}
    )
    def post(self, request: Request) -> Response:
        template = services.create_template(owner=request.user, **parse(TemplateWrite, request.data))
        return Response({"temp_id": template.pk})

    @extend_schema(
        tags=TAGS,
        summary="编辑模版 (not once passed; back to review)",
        request=TemplateUpdate,
        responses={200: TemplateIdOut, **ERRORS},
    )
    def put(self, request: Request) -> Response:
        template = services.update_template(owner=request.user, **parse(TemplateUpdate, request.data))
        return Response({"temp_id": template.pk})

    @extend_schema(tags=TAGS, summary="删除模版", request=TemplateDelete, responses={200: OkOut, **ERRORS})
    def delete(self, request: Request) -> Response:
        services.delete_template(owner=request.user, **parse(TemplateDelete, request.data))
        return Response(OK)


class TempReviewView(RootAPIView):
    @extend_schema(
        tags=["v2 review"],
        summary="审核模版 (root only)",
        request=TemplateReview,
        responses={200: OkOut, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        services.review_template(**parse(TemplateReview, request.data))
        return Response(OK)
