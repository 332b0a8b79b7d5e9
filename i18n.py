"""The one catalogue of user-facing text: zh-CN (default) and English, complete.

Every string a user reads comes from :data:`CATALOGUE` through :func:`text`.
A test checks that both languages define exactly the same keys.
"""

from __future__ import annotations

from settings import SUPPORTED_LANGUAGES

DEFAULT_LANGUAGE = "zh-CN"

CATALOGUE: dict[str, dict[str, str]] = {
    "zh-CN": {
        "app.title": "平安指挥",
        "app.subtitle": "朔城区社会治理指挥中心",
        "app.district": "朔城区",
        "map.legend.station": "派出所辖区",
        "map.legend.grid": "网格",
        "map.grids.count": "{count} 个网格",
        "grid.code": "网格编码",
        "grid.name": "网格名称",
        "grid.station": "所属派出所",
        "grid.officer": "社区民警",
        "grid.worker": "网格员",
        "grid.zone": "区域类型",
        "grid.area": "面积",
        "grid.area.value": "{value:.2f} 平方千米",
        "grid.centroid": "中心点",
        "grid.arrival_target": "到场时限",
        "grid.arrival_target.value": "{minutes} 分钟",
        "grid.unknown": "未找到网格 {code}",
        "zone.urban": "城区",
        "zone.suburban": "城郊",
        "zone.rural": "乡村",
        "panel.details.title": "网格详情",
        "panel.details.empty": "点击地图上的网格查看详情",
        "panel.details.close": "关闭",
        "panel.feed.title": "实时警情",
        "panel.feed.pending": "实时数据流尚未接入",
        "clock.label": "北京时间",
    },
    "en": {
        "app.title": "Ping'an Command",
        "app.subtitle": "Shuocheng District Command Centre",
        "app.district": "Shuocheng District",
        "map.legend.station": "Police-station area",
        "map.legend.grid": "Grid",
        "map.grids.count": "{count} grids",
        "grid.code": "Grid code",
        "grid.name": "Grid name",
        "grid.station": "Police station",
        "grid.officer": "Community officer",
        "grid.worker": "Grid worker",
        "grid.zone": "Zone",
        "grid.area": "Area",
        "grid.area.value": "{value:.2f} km²",
        "grid.centroid": "Centre",
        "grid.arrival_target": "Arrival target",
        "grid.arrival_target.value": "{minutes} min",
        "grid.unknown": "No grid {code}",
        "zone.urban": "Urban",
        "zone.suburban": "Suburban",
        "zone.rural": "Rural",
        "panel.details.title": "Grid details",
        "panel.details.empty": "Click a grid on the map to see its details",
        "panel.details.close": "Close",
        "panel.feed.title": "Live incidents",
        "panel.feed.pending": "The live feed is not connected yet",
        "clock.label": "Beijing time",
    },
}


def text(key: str, language: str = DEFAULT_LANGUAGE, **values: object) -> str:
    """Return the catalogue text for ``key`` in ``language``, formatted with ``values``.

    Raises
    ------
    KeyError
        If the key is missing: a missing translation is a bug, not a fallback.
    """
    if language not in SUPPORTED_LANGUAGES:
        raise KeyError(f"unsupported language {language!r}")
    template = CATALOGUE[language][key]
    return template.format(**values) if values else template


def data_field(language: str) -> str:
    """Suffix of bilingual data fields (``name_zh`` / ``name_en``) for ``language``."""
    return "zh" if language == "zh-CN" else "en"
