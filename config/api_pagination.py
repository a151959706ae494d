from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    """`?page=` (an unknown page answers 404) and `?page_size=`: a positive integer, else 400 (DRF would
    silently use the default); sizes over the maximum are capped to it."""

    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        digits = raw.lstrip("0")
        if not (raw.isascii() and raw.isdigit()) or not digits:
            raise ValidationError({self.page_size_query_param: ["A positive whole number is required."]})
        # Past 12 digits it is over the maximum anyway: no need to convert a huge string.
        return self.max_page_size if len(digits) > 12 else min(int(digits), self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Results per page (default {self.page_size}); values over {self.max_page_size} are capped "
                    f"at {self.max_page_size}."
                )
        return parameters
