"""The house style of Ascolto's dashboards, on top of grafana-foundation-sdk's builders.

Every panel reads the `$datasource` variable, rates use `$__rate_interval` (summaries over
the whole time picker use `$__range`), and the matchers for the template variables are
spelled once here (metric names and every other matcher: observability/selectors.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grafana_foundation_sdk.builders import (
    bargauge,
    common,
    piechart,
    prometheus,
    stat,
    statetimeline,
    timeseries,
)
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import piechart as pc

from observability.selectors import sum_rate

DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
PROVISIONED_DATASOURCE_UID = "ascolto-prometheus"  # grafana/provisioning/datasources

BRAND = 'brand=~"$brand"'
CHANNEL = 'channel=~"$channel"'
INSTANCE = 'instance=~"$instance"'
RATE = "$__rate_interval"  # windows: rates over Grafana's step, totals over the time picker
RANGE = "$__range"

GREEN, ORANGE, RED, DARK_RED = "green", "orange", "red", "dark-red"

Steps = Sequence[tuple[float | None, str]]
PanelBuilder = Builder[dm.Panel]


def quantile(q: float, buckets: str, by: str = "", window: str = RATE) -> str:
    """histogram_quantile of a histogram's `_bucket` selector, summed (by `by`) over `window`."""
    group = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, {sum_rate(buckets, window, group)})"


def target(expr: str, legend: str = "", *, instant: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).datasource(DATASOURCE)
    if legend:
        query = query.legend_format(legend)
    return query.instant() if instant else query.range()


def thresholds(steps: Steps) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=value, color=color) for value, color in steps])
    )


def thresholds_value(steps: Steps) -> dict[str, Any]:
    """The same steps as a raw field-config value, for per-series overrides."""
    return {
        "mode": "absolute",
        "steps": [{"color": color, "value": value} for value, color in steps],
    }


def override_thresholds(
    panel: Any, matcher: str, pattern: str, steps: Steps, max_val: float | None = None
) -> None:
    """Colour the series whose display name matches `pattern` with their own steps."""
    props = [
        dm.DynamicConfigValue(id_val="thresholds", value=thresholds_value(steps)),
        dm.DynamicConfigValue(id_val="color", value={"mode": "thresholds"}),
    ]
    if max_val is not None:
        props.append(dm.DynamicConfigValue(id_val="max", value=max_val))
    if matcher == "byName":
        panel.override_by_name(pattern, props)
    else:
        panel.override_by_regexp(pattern, props)


def _last_value() -> common.ReduceDataOptions:
    return common.ReduceDataOptions().calcs(["lastNotNull"]).values(False)


def _common(
    panel: Any,
    title: str,
    description: str,
    targets: Sequence[Any],
    unit: str,
    span: int,
    height: int,
) -> Any:
    panel = (
        panel.title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(span)
        .height(height)
    )
    for ref_id, query in zip("ABCDEFGHIJ", targets, strict=False):
        panel = panel.with_target(query.ref_id(ref_id))
    return panel


def timeseries_panel(
    title: str,
    description: str,
    targets: Sequence[Any],
    unit: str,
    *,
    span: int = 12,
    height: int = 8,
    stack: bool = False,
    steps: Steps | None = None,
    min_val: float | None = 0,
    max_val: float | None = None,
    bars: bool = False,
) -> timeseries.Panel:
    panel = (
        _common(timeseries.Panel(), title, description, targets, unit, span, height)
        .line_width(1)
        .fill_opacity(25 if stack else 10)
        .show_points(cm.VisibilityMode.NEVER)
        .legend(
            common.VizLegendOptions()
            .show_legend(True)
            .display_mode(cm.LegendDisplayMode.TABLE)
            .placement(cm.LegendPlacement.BOTTOM)
            .calcs(["mean", "max", "lastNotNull"])
        )
        .tooltip(
            common.VizTooltipOptions()
            .mode(cm.TooltipDisplayMode.MULTI)
            .sort(cm.SortOrder.DESCENDING)
        )
    )
    if bars:
        panel = panel.draw_style(cm.GraphDrawStyle.BARS)
    if stack:
        panel = panel.stacking(common.StackingConfig().mode(cm.StackingMode.NORMAL))
    if min_val is not None:
        panel = panel.min(min_val)
    if max_val is not None:
        panel = panel.max(max_val)
    if steps:
        panel = panel.thresholds(thresholds(steps)).thresholds_style(
            common.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.DASHED)
        )
    return panel


def stat_panel(
    title: str,
    description: str,
    targets: Sequence[Any],
    unit: str,
    *,
    span: int = 6,
    height: int = 5,
    steps: Steps | None = None,
    decimals: float | None = None,
) -> stat.Panel:
    panel = (
        _common(stat.Panel(), title, description, targets, unit, span, height)
        .graph_mode(cm.BigValueGraphMode.NONE)
        .color_mode(cm.BigValueColorMode.BACKGROUND)
        .reduce_options(_last_value())
        .thresholds(thresholds(steps or [(None, "text")]))
    )
    return panel.decimals(decimals) if decimals is not None else panel


def bargauge_panel(
    title: str,
    description: str,
    targets: Sequence[Any],
    unit: str,
    *,
    span: int = 12,
    height: int = 8,
    steps: Steps | None = None,
    min_val: float = 0,
    max_val: float | None = None,
) -> bargauge.Panel:
    panel = (
        _common(bargauge.Panel(), title, description, targets, unit, span, height)
        .display_mode(cm.BarGaugeDisplayMode.GRADIENT)
        .orientation(cm.VizOrientation.HORIZONTAL)
        .reduce_options(_last_value())
        .thresholds(thresholds(steps or [(None, GREEN)]))
        .min(min_val)
    )
    return panel.max(max_val) if max_val is not None else panel


def piechart_panel(
    title: str,
    description: str,
    targets: Sequence[Any],
    unit: str,
    *,
    span: int = 8,
    height: int = 8,
    colors: dict[str, str] | None = None,
) -> piechart.Panel:
    panel = (
        _common(piechart.Panel(), title, description, targets, unit, span, height)
        .pie_type(pc.PieChartType.DONUT)
        .reduce_options(_last_value())
    )
    for name, color in (colors or {}).items():
        panel = panel.override_by_name(
            name,
            [dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": color})],
        )
    return panel


def up_timeline_panel(
    title: str, description: str, targets: Sequence[Any], *, span: int = 24, height: int = 6
) -> statetimeline.Panel:
    """A state timeline of `up`: green UP, red DOWN."""
    mapping = dm.ValueMap(
        options={
            "0": dm.ValueMappingResult(text="DOWN", color=RED, index=0),
            "1": dm.ValueMappingResult(text="UP", color=GREEN, index=1),
        }
    )
    return (
        _common(statetimeline.Panel(), title, description, targets, "none", span, height)
        .mappings([mapping])
        .thresholds(thresholds([(None, RED), (1, GREEN)]))
        .color_scheme(dash.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
    )


def datasource_variable() -> dash.DatasourceVariable:
    return (
        dash.DatasourceVariable("datasource")
        .label("Data source")
        .type("prometheus")
        .current(
            dm.VariableOption(
                selected=True, text="Ascolto Prometheus", value=PROVISIONED_DATASOURCE_UID
            )
        )
    )


def query_variable(name: str, label: str, query: str) -> dash.QueryVariable:
    """A multi-value variable with All (as the regex `.*`), refreshed with the time range."""
    return (
        dash.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(dm.VariableOption(selected=True, text=["All"], value=["$__all"]))
    )


def build_dashboard(
    *,
    uid: str,
    title: str,
    description: str,
    time_from: str,
    variables: Sequence[Builder[dm.VariableModel]],
    rows: Sequence[tuple[str, Sequence[PanelBuilder]]],
) -> dm.Dashboard:
    """Assemble rows of panels; panel ids are numbered in order, so the JSON is stable."""
    builder = (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["ascolto", "generated"])
        .editable()
        .time(time_from, "now")
        .refresh("30s")
        .timezone("browser")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .link(
            dash.DashboardLink("Ascolto dashboards")
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags(["ascolto"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )
    for variable in variables:
        builder = builder.with_variable(variable)
    for row_title, panels in rows:
        builder = builder.with_row(dash.Row(row_title))
        for panel in panels:
            builder = builder.with_panel(panel)
    model = builder.build()
    for number, item in enumerate(model.panels or [], start=1):
        item.id_val = number
    return model
