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
        "panel.feed.empty": "今日暂无警情",
        "panel.feed.count": "今日 {count} 起",
        "live.status.live": "实时",
        "live.status.connecting": "连接中",
        "live.status.reconnecting": "重新连接中",
        "live.status.stale": "数据中断 {seconds} 秒",
        "live.dead_letters": "异常数据 {count} 条",
        "live.grid_today": "今日警情",
        "live.grid_today.value": "{count} 起",
        "category.neighbour_dispute": "邻里纠纷",
        "category.family_dispute": "家庭纠纷",
        "category.wage_arrears": "欠薪纠纷",
        "category.bride_price": "彩礼纠纷",
        "category.noise": "噪音扰民",
        "category.theft": "盗窃",
        "category.fraud": "诈骗",
        "category.traffic": "交通事故",
        "category.fight": "打架斗殴",
        "category.fire": "火情",
        "category.medical": "医疗求助",
        "category.other": "其他",
        "source.110": "110",
        "source.12345": "12345",
        "source.grid": "网格上报",
        "status.new": "待处置",
        "unit.available": "空闲",
        "unit.busy": "执勤中",
        "unit.off": "离线",
        "alert.title": "设备告警",
        "alert.fault": "设备故障",
        "scenario.minors_weapon_shoving": "未成年人持械推搡",
        "scenario.fight": "打架斗殴",
        "scenario.crowd_gathering": "人员聚集",
        "scenario.vagrant_loitering": "流浪人员徘徊",
        "scenario.person_fall": "人员倒地",
        "scenario.intrusion": "区域入侵",
        "scenario.abandoned_object": "遗留物品",
        "scenario.vehicle_wrong_way": "车辆逆行",
        "scenario.smoke": "烟雾超标",
        "scenario.high_altitude_throwing": "高空抛物",
        "scenario.door_forced": "门禁被强行打开",
        "scenario.door_tailgating": "尾随进入",
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
        "panel.feed.empty": "No incidents today",
        "panel.feed.count": "{count} today",
        "live.status.live": "Live",
        "live.status.connecting": "Connecting",
        "live.status.reconnecting": "Reconnecting",
        "live.status.stale": "No data for {seconds} s",
        "live.dead_letters": "{count} rejected entries",
        "live.grid_today": "Incidents today",
        "live.grid_today.value": "{count}",
        "category.neighbour_dispute": "Neighbour dispute",
        "category.family_dispute": "Family dispute",
        "category.wage_arrears": "Wage arrears",
        "category.bride_price": "Bride-price dispute",
        "category.noise": "Noise",
        "category.theft": "Theft",
        "category.fraud": "Fraud",
        "category.traffic": "Traffic accident",
        "category.fight": "Fight",
        "category.fire": "Fire",
        "category.medical": "Medical",
        "category.other": "Other",
        "source.110": "110",
        "source.12345": "12345",
        "source.grid": "Grid report",
        "status.new": "New",
        "unit.available": "Available",
        "unit.busy": "Busy",
        "unit.off": "Off duty",
        "alert.title": "Device alert",
        "alert.fault": "Device fault",
        "scenario.minors_weapon_shoving": "Minors shoving with weapons",
        "scenario.fight": "Fight",
        "scenario.crowd_gathering": "Crowd gathering",
        "scenario.vagrant_loitering": "Vagrant loitering",
        "scenario.person_fall": "Person fallen",
        "scenario.intrusion": "Intrusion",
        "scenario.abandoned_object": "Abandoned object",
        "scenario.vehicle_wrong_way": "Vehicle driving the wrong way",
        "scenario.smoke": "Smoke above threshold",
        "scenario.high_altitude_throwing": "High-altitude throwing",
        "scenario.door_forced": "Door forced open",
        "scenario.door_tailgating": "Tailgating",
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
