-- Argo CD health check for mapreduce.dev/MapReduceJob (resource.customizations.health.mapreduce.dev_MapReduceJob).
-- Healthy when the job succeeded, Degraded when it failed, Suspended while suspended, Progressing otherwise.
hs = {}
if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to start the job"
  return hs
end
local st = obj.status
local function counts()
  return (st.succeededItems or 0) .. "/" .. (st.totalItems or "?") .. " items succeeded, " .. (st.failedItems or 0) .. " failed"
end
local function condition(kind)
  if st.conditions == nil then return nil end
  for _, c in ipairs(st.conditions) do
    if c.type == kind and c.status == "True" then return c end
  end
  return nil
end
if st.phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = counts()
elseif st.phase == "Failed" then
  hs.status = "Degraded"
  local c = condition("Failed")
  if c ~= nil then
    hs.message = c.reason .. ": " .. c.message
  else
    hs.message = "Failed: " .. counts()
  end
elseif st.phase == "Suspended" then
  hs.status = "Suspended"
  hs.message = "Suspended: " .. counts()
else
  hs.status = "Progressing"
  hs.message = st.phase .. ": " .. counts()
end
return hs
