"""What residents ask for in the demo: the live stream (demo/dispatch.py) and the past
(demo/past.py) draw their needs from this one list."""

from __future__ import annotations

# (category, need text, task title); {name} a resident, {grid} the compound.
NEEDS = (
    ("助老助残", "独居老人{name}行动不便, 需要陪同去社区医院复查", "陪同独居老人就医"),
    ("助老助残", "高龄老人{name}家中需要代买米面油等生活用品", "为高龄老人代购生活用品"),
    ("环境整治", "{grid}楼道堆放杂物, 存在消防隐患, 需要清理", "楼道杂物清理"),
    ("环境整治", "{grid}绿化带垃圾较多, 居民希望组织一次清扫", "绿化带垃圾清扫"),
    ("政策宣传", "{grid}老年居民希望了解医保线上缴费办法", "医保缴费政策讲解"),
    ("矛盾调解", "{grid}两户邻居因漏水问题发生纠纷, 需要上门调解", "邻里漏水纠纷调解"),
    ("文明创建", "{grid}需要志愿者协助开展垃圾分类宣传", "垃圾分类宣传值守"),
    ("物资微心愿", "困难家庭学生{name}希望得到一套学习用品", "微心愿: 学习用品"),
    ("物资微心愿", "残疾居民{name}希望得到一台电暖器过冬", "微心愿: 电暖器"),
)
