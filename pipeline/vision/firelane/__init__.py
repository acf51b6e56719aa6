"""Fire-lane occupancy (消防通道占用): a vehicle that stays in a fire lane past its grace time gets a voice
warning on the zone's loudspeaker, repeated, then an escalated alert for the guards.

Modules, one concept each: `models` (where the ONNX file is), `detector` (YOLO on onnxruntime),
`gating` (skip the detector when the zone did not change), `zones` (ByteTrack ids and zone membership),
`dwell` (the pure per-zone state machine), `outputs` (alerts and broadcast commands), `core` (all of it
for one camera), `mot` (MOT-text detections for offline runs).
"""
