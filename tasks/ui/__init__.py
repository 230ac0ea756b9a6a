"""UI toolkit: how any stage shows something to a person, with no knowledge of what it shows.

Progress bars in the Prefect UI (``artifacts.report_progress``), PNG figures drawn headless with a CJK font
fallback (``figures``, ``fonts``), PNGs embedded in markdown artifacts within their size budget (``images``),
markdown tables (``markdown``) and the names and tags of flow runs (``labels``). What a stage shows (its tables,
charts and report sections) lives with that stage and is drawn with these. Above ``core`` only.
"""
