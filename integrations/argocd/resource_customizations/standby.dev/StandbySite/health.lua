-- Argo CD health of a standby.dev StandbySite, from its conditions and observedGeneration
-- only (never from status.phase, whose names may change). Order matters: a fence that no longer
-- holds is the most urgent thing to show, then kstatus' Stalled and Reconciling, then Ready.
local hs = {}

local function progressing(message)
  hs.status = "Progressing"
  hs.message = message
  return hs
end

if obj.status == nil or obj.status.observedGeneration == nil then
  return progressing("Waiting for the operator to report on this StandbySite")
end

local generation = obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration < generation then
  return progressing("Waiting for the operator to act on generation " .. tostring(generation) ..
    " (the status is for generation " .. tostring(obj.status.observedGeneration) .. ")")
end

-- Conditions written for an older generation of the spec say nothing about this one.
local conditions = {}
local kstatus = false
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type ~= nil and (generation == nil or c.observedGeneration == nil or c.observedGeneration >= generation) then
      conditions[c.type] = c
    end
    if c.type == "Stalled" or c.type == "Reconciling" then
      kstatus = true
    end
  end
end

local function message(c, default)
  if c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return default
end

local fencing = conditions["FencingHolds"]
if fencing ~= nil and fencing.status == "False" then
  hs.status = "Degraded"
  hs.message = "The old primary is no longer fenced: " .. message(fencing, fencing.reason or "")
  return hs
end

local stalled = conditions["Stalled"]
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = message(stalled, "Stalled")
  return hs
end

local reconciling = conditions["Reconciling"]
if reconciling ~= nil and reconciling.status == "True" then
  return progressing(message(reconciling, "Reconciling"))
end

local ready = conditions["Ready"]
if ready == nil then
  return progressing("Waiting for the Ready condition")
end
if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = message(ready, "Protected")
  return hs
end

-- Not Ready, not converging and not stalled: the site needs attention. An operator that does not
-- write the kstatus conditions yet cannot say whether it is still converging: wait, do not judge.
if kstatus then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
hs.message = message(ready, "Not Ready")
return hs
